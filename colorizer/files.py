"""Files written atomically: a temporary file of this writer's own beside the target, then
os.replace, so neither a crash nor a neighbour writing the same file leaves half a file."""

import json
import os
import secrets
from pathlib import Path


def temporary_name(path):
    """A hidden name beside `path` that no other writer uses (process id and a random tag)."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")


def atomic_write(path, write):
    """Call `write(tmp)`, then move tmp onto `path`; on failure tmp is removed."""
    path = Path(path)
    tmp = temporary_name(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_json(path, obj):
    return atomic_write(path, lambda tmp: tmp.write_text(json.dumps(obj, indent=2) + "\n"))
