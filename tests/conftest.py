import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from colorizer import Config
from colorizer.data import BUNDLED

TINY = dict(widths=(4, 8, 8), batch_size=8, augment_factor=2)


def tiny_config(**kw):
    """A 16 px model small enough for tests that take seconds."""
    return Config(**{**TINY, **kw})


def smooth_face(rng, size):
    """A synthetic image whose colour follows its lightness, so a model can learn it."""
    y, x = np.mgrid[0:size, 0:size] / size
    cx, cy, r = rng.uniform(0.3, 0.7, 3)
    blob = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (0.1 + 0.2 * r))
    rgb = np.stack([0.9 * blob + 0.1, 0.6 * blob + 0.1, 0.4 * blob + 0.2 * (1 - blob)], -1)
    return (np.clip(rgb, 0, 1) * 255).astype(np.uint8)


def make_folder(folder, n=12, size=16, seed=0):
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        Image.fromarray(smooth_face(rng, size)).save(folder / f"img{i:03d}.png")
    return folder


@pytest.fixture(autouse=True)
def cache_in_tmp(tmp_path, monkeypatch):
    """Every test's image cache in its own temporary folder, never the user's."""
    monkeypatch.setenv("COLORIZER_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def tiny_folder(tmp_path):
    return make_folder(tmp_path / "tiny")


@pytest.fixture(scope="session")
def real_data():
    """The face set: $COLORIZER_DATA, else the folder the repository carries. Under CI a missing
    set fails instead of skipping."""
    path = Path(os.environ.get("COLORIZER_DATA") or BUNDLED)
    if path.is_dir() and any(path.glob("*.jpg")):
        return path
    msg = f"real face images not found in {path}"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(msg)
    pytest.skip(msg)
