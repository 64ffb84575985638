"""Shared by the benchmarks: data, machine description, JSON output."""

import json
import os
import platform
import time
from pathlib import Path

import torch

from colorizer import load_images, split_names

RESULTS = Path(__file__).resolve().parent / "results"


def machine():
    return {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "cuda": torch.cuda.is_available(), "python": platform.python_version()}


def train_split(data_dir=None, limit=None, seed=0):
    """The training split of the face set, as the training pipeline sees it."""
    data = load_images(data_dir, limit=limit)
    train, test = split_names(data.names, 0.1, seed)
    return data.subset(train), data.subset(test)


def write_result(name, obj):
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(obj, indent=2) + "\n")
    return path
