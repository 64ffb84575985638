"""Serving: the web demo, ONNX export and inference, model folders (the Hub's layout) and the
shipped model. Built on the core; the core never imports it (the CLI does, inside the commands
that serve)."""
