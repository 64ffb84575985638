"""Files written atomically: a temporary file of this writer's own beside the target, then
os.replace, so neither a crash nor a neighbour writing the same file leaves half a file."""

import json
import os
import secrets
from pathlib import Path


def temporary_name(path):
    """A short hidden name beside `path` that no other writer uses (a random tag of its own;
    short, so that a target whose name is near the file system's 255 bytes still has one)."""
    return Path(path).with_name(f".colorizer-{secrets.token_hex(6)}.tmp")


def atomic_write(path, write, private=False):
    """Call `write(tmp)`, then move tmp onto `path`; on failure tmp is removed. `private`: the
    file is readable by its owner alone (0600), from before it gets its name."""
    path = Path(path)
    tmp = temporary_name(path)
    try:
        write(tmp)
        if private:
            os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_json(path, obj, private=False):
    return atomic_write(path, lambda tmp: tmp.write_text(json.dumps(obj, indent=2) + "\n"),
                        private)


def private_folder(path):
    """Make `path` (and its missing parents) a folder only its owner can enter (0700)."""
    path = Path(path)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)             # (mkdir's mode is cut by the umask, and exist_ok keeps)
    return path
