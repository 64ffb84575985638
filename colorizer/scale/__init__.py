"""Scale: an on-disk image cache for folders larger than memory, and several processes under
torchrun. Built on the core; a run imports it only when it asks for one of them."""
