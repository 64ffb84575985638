"""Files written atomically: a temporary file beside the target, then os.replace."""

import json
import os
from pathlib import Path


def atomic_write(path, write):
    """Call `write(tmp)`, then move tmp onto `path`: a crash never leaves half a file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)
    return path


def write_json(path, obj):
    return atomic_write(path, lambda tmp: tmp.write_text(json.dumps(obj, indent=2) + "\n"))
