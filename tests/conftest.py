import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from colorizer import Config, devices, load_images
from colorizer.data import BUNDLED

ROOT = Path(__file__).resolve().parents[1]
# The tests run on the CPU, explicitly, wherever they run: their figures are compared with CPU
# figures. What only a GPU shows is marked `cuda` (skipped without one) or in benchmarks.gpu_check.
# the conv stem: the behaviour the tests were written against (the stems: test_models.py)
TINY = dict(widths=(4, 8, 8), batch_size=8, augment_factor=2, device="cpu", stem="conv",
            precision="float32")       # the same figures on every CPU (auto: bfloat16 on some)
REAL_CUDA = torch.cuda.is_available()


def tiny_config(**kw):
    """A 16 px model small enough for tests that take seconds, on the CPU."""
    return Config(**{**TINY, **kw})


def child_env(**extra):
    """The environment of a process a test starts: this checkout first on PYTHONPATH (extended,
    never replaced: wheels carried with `pip install --target` + PYTHONPATH stay visible), and
    no GPU visible (CUDA_VISIBLE_DEVICES empty: a child computes the CPU figures the test
    compares with)."""
    paths = [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths), "CUDA_VISIBLE_DEVICES": "",
            **extra}


def pytest_collection_modifyitems(config, items):
    if not REAL_CUDA:
        skip = pytest.mark.skip(reason="needs a CUDA device")
        for item in items:
            if item.get_closest_marker("cuda"):
                item.add_marker(skip)


def _picked_cuda(*args, **kwargs):
    raise RuntimeError("this test picked CUDA without asking (the device factory sees a GPU "
                       "here): give it the CPU explicitly, or mark it cuda")


@pytest.fixture(autouse=True)
def no_silent_cuda(request, monkeypatch):
    """Where there is no GPU, the suite runs as if there were one that raises when used: the
    device factory's "auto" takes CUDA (devices.cuda_present patched to True) and the first use
    of CUDA raises, so a test that would pick CUDA by itself (and, on a machine with a GPU,
    compare a GPU figure with a CPU one, or feed CPU tensors to a CUDA model) fails here."""
    if REAL_CUDA or request.node.get_closest_marker("cuda"):
        return
    # devices.cuda_present, not torch.cuda.is_available: torch's own optimizers ask that (a graph
    # capture check on every step) and would then reach for a GPU. The package asks torch
    # through devices alone (tests/test_package.py), so this guard sees every path it has.
    monkeypatch.setattr(devices, "cuda_present", lambda: True)
    monkeypatch.setattr(torch.cuda, "_lazy_init", _picked_cuda)


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


@pytest.fixture
def tiny_data(tiny_folder):
    """The tiny folder's images, loaded at 16 px."""
    return load_images(tiny_folder, size=16)


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


def require_onnx():
    """Skip without the onnx extra (onnx, onnxruntime), but fail in CI, which installs it."""
    import importlib.util

    missing = [m for m in ("onnx", "onnxruntime") if importlib.util.find_spec(m) is None]
    if missing:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI installs the onnx extra; missing {missing}")
        pytest.skip(f"the onnx extra is not installed ({', '.join(missing)})")
