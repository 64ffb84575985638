"""Shared by the benchmarks: data, machine description, JSON output."""

import os
import platform
import sys
import time
from pathlib import Path

import torch

from colorizer import load_images, split
from colorizer.devices import cpu_name
from colorizer.files import write_json

RESULTS = Path(__file__).resolve().parent / "results"


def machine():
    return {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "cpu": cpu_name(), "cores": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "cuda": torch.cuda.is_available(), "python": platform.python_version()}


def train_split(data_dir=None, limit=None):
    """The (train, test) split of the face set, as the training pipeline sees it."""
    return split(load_images(data_dir, limit=limit))


def command(module, argv):
    """The command line that reproduces a result, for its header."""
    return " ".join(["python -m", module, *(argv if argv is not None else sys.argv[1:])])


def write_result(name, obj, markdown=None):
    """benchmarks/results/NAME.json (and NAME.md): the files the README's tables come from."""
    RESULTS.mkdir(exist_ok=True)
    if markdown is not None:
        (RESULTS / f"{name}.md").write_text(markdown.rstrip() + "\n")
    return write_json(RESULTS / f"{name}.json", obj)
