"""Shared by the benchmarks: data, machine description, JSON output."""

import os
import platform
import shlex
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import torch

from colorizer import load_images, split
from colorizer.devices import cpu_name
from colorizer.files import write_json
from research.results import RESULTS, result_path


def machine():
    return {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "cpu": cpu_name(), "cores": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "cuda": torch.cuda.is_available(), "python": platform.python_version(),
            "commit": commit()}


def commit():
    """The checkout's commit (with '+' when it has uncommitted changes): `git checkout` it to
    run a result's command again with the code that wrote it; None outside a git checkout."""
    def git(*args):
        return subprocess.run(["git", *args], capture_output=True, text=True,
                              cwd=RESULTS.parent.parent).stdout.strip()
    try:
        sha = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except OSError:
        return None
    return (sha + ("+" if dirty else "")) or None


def train_split(data_dir=None, limit=None):
    """The (train, test) split of the face set, as the training pipeline sees it."""
    return split(load_images(data_dir, limit=limit))


def command(module, argv):
    """The command line that reproduces a result, for its header."""
    args = argv if argv is not None else sys.argv[1:]
    return " ".join(["python -m", module, shlex.join(args)]).rstrip()


def write_result(name, obj, markdown=None):
    """benchmarks/results/KIND/NAME.json (and NAME.md): the files the README's tables come
    from, in the folder of their kind (kind_of)."""
    result_path(name).parent.mkdir(parents=True, exist_ok=True)
    if markdown is not None:
        result_path(name, ".md").write_text(markdown.rstrip() + "\n")
    return write_json(result_path(name), obj)


def one_colour_png(path, side):
    """A valid side x side gray PNG of one colour, written without ever holding its pixels (a
    few hundred KB on disk for 20000 x 20000): an image bomb, for the tests and the load test."""
    def chunk(kind, body):
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))
    packer, row, parts = zlib.compressobj(9), b"\0" + b"\x80" * side, []
    for _ in range(side):
        parts.append(packer.compress(row))
    parts.append(packer.flush())
    Path(path).write_bytes(b"\x89PNG\r\n\x1a\n"
                           + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0))
                           + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b""))
    return path
