"""Hostile files: seeded mutations of a valid weights file, checkpoint, settings file and image,
each fed to the loader a user reaches it through. Every outcome is a loaded object or one
ColorizerError, never another exception, and the process that loads them all stays small."""

import json
import resource
import struct
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from colorizer import ColorizerError, Config, build_model, from_pretrained, load_model
from colorizer.config import read_settings_file
from colorizer.data import read_image
from colorizer.serving.hub import save_pretrained

from .conftest import child_env

SEED, PER_KIND = 0, 60        # mutations of each valid file
PEAK_MB = 1500                # the loading process's peak resident memory at most


def valid_files(folder):
    """A model folder (int8 safetensors + config.json), a training checkpoint, a settings file,
    a PNG and a JPEG, all valid, in `folder`."""
    torch.manual_seed(0)
    cfg = Config(widths=(4, 8, 8), device="cpu")
    model = build_model(cfg)
    save_pretrained(model, folder / "model", {"split": {"train": [], "test": []}})
    # torch.save itself, not save_checkpoint: its temporary file's random name would become the
    # archive's folder inside the file, and the seeded mutations would land on other bytes
    torch.save({"model": model.state_dict(), "config": cfg.to_dict(), "epoch": 1},
               folder / "checkpoint.pt")
    (folder / "settings.json").write_text(json.dumps(cfg.to_dict()))
    rgb = (np.random.default_rng(0).random((24, 24, 3)) * 255).astype(np.uint8)
    Image.fromarray(rgb).save(folder / "image.png")
    Image.fromarray(rgb).save(folder / "image.jpg", quality=90)
    return folder


def _safetensors_edits(data, rng):
    """The header of a safetensors file edited: a tensor's shape or dtype changed, or the
    run's settings in its metadata broken."""
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    names = [k for k in header if k != "__metadata__"]
    name = names[rng.integers(len(names))]
    kind = rng.integers(6)
    if kind == 0:
        header[name]["shape"] = header[name]["shape"][::-1] + [1]
    elif kind == 1:
        header[name]["shape"] = [int(rng.integers(1, 40000)), 1]
    elif kind == 2:
        header[name]["dtype"] = ["I8", "F16", "F32", "I64", "BOOL"][rng.integers(5)]
    elif kind == 3:
        header["__metadata__"]["config"] = "{not json" * int(rng.integers(1, 5))
    elif kind == 4:
        header["__metadata__"].pop("config", None)
    else:
        header["__metadata__"]["config"] = "[" * 5000 + "]" * 5000
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data[8 + n:]


def mutations(data, rng, edit=None):
    """Seeded mutations of `data`: truncations, flipped bytes, and `edit`'s own kind."""
    out = []
    for i in range(PER_KIND):
        kind = i % 3 if edit else i % 2
        if kind == 0:
            out.append(data[:int(rng.integers(0, len(data)))])
        elif kind == 1:
            b = bytearray(data)
            for pos in rng.integers(0, len(b), size=int(rng.integers(1, 9))):
                b[pos] = int(rng.integers(256))
            out.append(bytes(b))
        else:
            out.append(edit(data, rng))
    return out


def _settings_edits(data, rng):
    settings = json.loads(data)
    key = list(settings)[rng.integers(len(settings))]
    settings[key] = [None, "five", 1e9, 128.0, -3, [], {"a": 1}, [0.5, "x"], True,
                     10 ** 30][rng.integers(10)]
    return json.dumps(settings).encode()


def cases(folder):
    """(loader name, mutated file path) for every mutation, written into `folder`/cases."""
    rng = np.random.default_rng(SEED)
    out = folder / "cases"
    out.mkdir()
    plan = [("model.safetensors", "model/model.safetensors", _safetensors_edits),
            ("checkpoint.pt", "checkpoint.pt", None),
            ("settings.json", "settings.json", _settings_edits),
            ("image.png", "image.png", None), ("image.jpg", "image.jpg", None)]
    written = []
    for name, source, edit in plan:
        for i, data in enumerate(mutations((folder / source).read_bytes(), rng, edit)):
            if name == "model.safetensors":         # a model folder of its own, as users hand it
                path = out / f"model{i}"
                path.mkdir()
                (path / "config.json").write_bytes((folder / "model/config.json").read_bytes())
                (path / "model.safetensors").write_bytes(data)
            else:
                path = out / f"{i}-{name}"
                path.write_bytes(data)
            written.append((name, path))
    return written


LOADERS = {"model.safetensors": lambda p: (load_model(p / "model.safetensors", "cpu"),
                                           from_pretrained(p, "cpu")),
           "checkpoint.pt": lambda p: load_model(p, "cpu"),
           "settings.json": lambda p: Config.from_dict(read_settings_file(p)),
           "image.png": read_image, "image.jpg": read_image}


def outcomes(folder):
    """{kind: {outcome: count}}: "loaded", "ColorizerError", or another exception's name."""
    counts = {}
    for name, path in cases(folder):
        try:
            LOADERS[name](path)
            outcome = "loaded"
        except ColorizerError:
            outcome = "ColorizerError"
        except Exception as e:                      # what the test is there to catch
            outcome = f"{type(e).__name__}: {e}"[:200]
        counts.setdefault(name, {}).setdefault(outcome, 0)
        counts[name][outcome] += 1
    return counts


def main(folder):
    from pathlib import Path

    counts = outcomes(valid_files(Path(folder)))
    print(json.dumps({"counts": counts, "peak_mb": peak_mb()}))


def peak_mb():
    """This process's peak resident memory since it started its program: VmHWM (getrusage's
    ru_maxrss also counts the parent's pages a child held between fork and exec: a pytest
    process of a GB made every child's 'peak' a GB)."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.slow
def test_every_mutated_file_loads_or_is_one_colorizer_error_in_bounded_memory(tmp_path):
    """In a process of its own, so that its peak memory is its own (peak_mb, in the child)."""
    r = subprocess.run([sys.executable, "-c", f"from tests.test_fuzz import main; "
                        f"main({str(tmp_path)!r})"], capture_output=True, text=True,
                       env=child_env(), timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    report = json.loads(r.stdout.strip().splitlines()[-1])
    counts = report["counts"]
    others = {name: [o for o in c if o not in ("loaded", "ColorizerError")]
              for name, c in counts.items()}
    assert not any(others.values()), others
    assert sum(sum(c.values()) for c in counts.values()) == 5 * PER_KIND
    # every kind met both a file it refused and, for the images, one it read
    assert all(c.get("ColorizerError") for c in counts.values()), counts
    assert report["peak_mb"] < PEAK_MB, f"the loading process peaked at {report['peak_mb']:.0f} MB"
