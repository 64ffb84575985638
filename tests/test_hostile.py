"""Everything a user or a visitor can hand over, hostile: files and arguments case by case (each
one line, ColorizerError or exit 2, refused before anything of its size is allocated or any file
is written), crafted files checked before they are trusted with memory bounded by pixels (a huge
PNG, a checkpoint declaring a giant model, a cache index pointing outside its folder), and seeded
mutations of a valid weights file, checkpoint, settings file and image fed to the loader a user
reaches them through (a loaded object or one ColorizerError, never another exception; the
process that loads them all stays small)."""

import json
import os
import resource
import stat
import struct
import subprocess
import sys
import time
import tracemalloc
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from benchmarks.common import one_colour_png
from colorizer import Config, colorize, data, from_pretrained, load_model
from colorizer.checkpoint import save_checkpoint
from colorizer.cli import main
from colorizer.config import ColorizerError, read_settings_file
from colorizer.console import QUIET
from colorizer.data import read_image
from colorizer.models import build_model
from colorizer.packing import SHIPPED_FORMAT, write_shipped
from colorizer.scale.cache import cached_images
from colorizer.serving.hub import save_pretrained
from colorizer.serving.pretrained import shipped_weights

from .conftest import child_env, smooth_face
from .test_cli import cli, one_line_error
from .test_colorize import files_below, photo, run
from .test_colorize import one_line_error as stderr_line

TINY = Config(widths=(4, 8, 8), device="cpu")


def _facts(**over):
    return {"config": TINY.to_dict(), "split": {"train": [], "test": []}, **over}


def test_a_scale_that_would_broadcast_into_gigabytes_is_refused_before_any_product(tmp_path):
    """An int8 tensor (30000, 1) beside a scale (1, 30000): 150 KB on disk, 3.6 GB multiplied."""
    path = tmp_path / "model.safetensors"
    write_shipped(path, {"encoder.0.weight": {"int8": torch.zeros(30000, 1, dtype=torch.int8),
                                              "scale": torch.ones(1, 30000)}}, _facts())
    assert path.stat().st_size < 400_000
    t0 = time.perf_counter()
    with pytest.raises(ColorizerError, match="one scale per output channel"):
        load_model(path, "cpu")
    assert time.perf_counter() - t0 < 5


@pytest.mark.parametrize("config, says", [("{not json", "not JSON"),
                                          ("[" * 200_000 + "]" * 200_000, "nested deeper"),
                                          (None, "holds no settings")],
                         ids=["not-json", "nested-deep", "no-settings"])
def test_weights_metadata_that_does_not_parse_is_one_line(tmp_path, config, says):
    from safetensors.torch import save_file

    path = tmp_path / "model.safetensors"
    metadata = {"format": SHIPPED_FORMAT, "split": "{}",
                **({"config": config} if config is not None else {})}
    save_file({k: v.contiguous() for k, v in build_model(TINY).state_dict().items()}, str(path),
              metadata=metadata)
    with pytest.raises(ColorizerError, match=says):
        load_model(path, "cpu")


def test_a_scale_without_its_int8_tensor_is_one_line(tmp_path):
    path = tmp_path / "model.safetensors"
    state = dict(build_model(TINY).state_dict())
    state["encoder.0.weight"] = {"scale": torch.ones(4, 1, 4, 4)}
    write_shipped(path, state, _facts())
    with pytest.raises(ColorizerError, match="neither a tensor nor an int8 tensor"):
        load_model(path, "cpu")


@pytest.mark.parametrize("model", [[1, 2, 3], 7])
def test_a_checkpoint_whose_weights_are_not_a_table_is_one_line(tmp_path, model):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, {"model": model, "config": TINY.to_dict()})
    with pytest.raises(ColorizerError, match="weights must be a table of tensors"):
        load_model(path, "cpu")


def test_a_model_folder_with_a_config_nested_200000_deep_is_one_line(tmp_path):
    folder = save_pretrained(build_model(TINY), tmp_path / "m")
    (folder / "config.json").write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(ColorizerError, match="nested deeper"):
        from_pretrained(folder, "cpu")


@pytest.mark.parametrize("setting, value", [("epochs", "five"), ("image_size", 128.0),
                                            ("widths", 5), ("epochs", 1e9)])
def test_a_setting_of_the_wrong_kind_is_refused_before_anything_is_read_or_written(
        tmp_path, setting, value):
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({setting: value}))
    out = tmp_path / "run"
    line = one_line_error(cli("train", "--config", settings, "--data", tmp_path / "nowhere",
                              "--out", out))
    given = "image_size" if setting == "image_size" else f"--{setting}"    # (a file's setting)
    assert f"{given} takes" in line
    assert not out.exists()                         # no config.json, no split.json


def test_a_settings_file_nested_deep_is_one_line(tmp_path):
    settings = tmp_path / "settings.json"
    settings.write_text("{\"epochs\": " + "[" * 200_000 + "]" * 200_000 + "}")
    assert "nested deeper" in one_line_error(cli("train", "--config", settings))


@pytest.mark.parametrize("count", ["inf", "1e400", "nan"])
def test_max_pixels_that_is_no_count_is_one_line(tmp_path, count):
    r = cli("colorize", tmp_path, "--out", tmp_path / "o", "--max-pixels", count)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "expected a positive number of pixels" in r.stderr


@pytest.mark.parametrize("command", ["colorize", "evaluate"])
def test_a_device_that_does_not_exist_is_one_line(tmp_path, command):
    args = [tmp_path, "--out", tmp_path / "o"] if command == "colorize" else []
    assert "--device takes" in one_line_error(cli(command, *args, "--device", "bogus"))


def test_a_fifo_named_on_the_command_line_is_refused_not_read(tmp_path, shipped_folder):
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    r = cli("colorize", fifo, "--out", tmp_path / "o", "--checkpoint", shipped_folder,
            "--device", "cpu")
    assert r.returncode == 1 and "not a regular file or folder" in r.stderr      # not a hang
    settings = tmp_path / "settings.json"
    os.mkfifo(settings)
    assert "not a regular file" in one_line_error(cli("train", "--config", settings))


@pytest.fixture
def shipped_folder(tmp_path):
    """A model folder as save_pretrained writes it (a tiny colorizer)."""
    return save_pretrained(build_model(TINY), tmp_path / "model")


def test_a_model_folder_is_taken_wherever_a_checkpoint_is(tmp_path, shipped_folder, real_data):
    model, _ = load_model(shipped_folder, "cpu")
    assert model.kind == "colorizer"
    photo = next(real_data.glob("*.jpg"))
    r = cli("colorize", photo, "--out", tmp_path / "o", "--checkpoint", shipped_folder,
            "--device", "cpu")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "o" / photo.with_suffix(".png").name).is_file()


def test_a_jpeg_with_malformed_exif_is_colorized_without_pillows_warnings(tmp_path,
                                                                          shipped_folder):
    import struct

    import numpy as np
    from PIL import Image

    from colorizer.colorize import output_metadata
    from colorizer.data import read_image

    path = tmp_path / "bad-exif.jpg"
    Image.fromarray((np.random.default_rng(0).random((32, 32, 3)) * 255).astype("uint8")).save(
        path)
    data = path.read_bytes()
    ifd = struct.pack("<2sHI", b"II", 42, 8) + struct.pack("<H", 3) + b"".join(
        struct.pack("<HHII", tag, 2, 5000, 60000) for tag in (0x010F, 0x0110, 0x8769))
    app1 = b"Exif\x00\x00" + ifd + struct.pack("<I", 0)
    path.write_bytes(data[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + data[2:])
    with warnings.catch_warnings():
        warnings.simplefilter("error")                  # any warning fails the test
        assert read_image(path).shape == (32, 32, 3)
        output_metadata(path, "m")
    r = cli("colorize", path, "--out", tmp_path / "o", "--checkpoint", shipped_folder,
            "--device", "cpu", "--no-progress")
    assert r.returncode == 0 and "Warning" not in r.stderr, r.stderr


@pytest.fixture(scope="module")
def shipped():
    return load_model(shipped_weights(), torch.device("cpu"))[0]


# ---- images: refused from their header, converted in stripes ----

def test_an_image_over_the_pixel_cap_is_refused_before_decoding(tmp_path, capsys):
    big = one_colour_png(tmp_path / "big.png", 12000)       # 144 MP: over the default 100 MP
    with pytest.warns(Image.DecompressionBombWarning):      # Pillow's own check agrees
        assert Image.open(big).size == (12000, 12000)       # a real PNG
    code, out, err = run(capsys, big, "--out", tmp_path / "out")
    assert code == 1 and "0 written, 0 kept, 1 failed" in out
    assert "144 MP is over the limit of 100 MP (--max-pixels)" in err
    assert files_below(tmp_path / "out") == []


def test_max_pixels_is_the_callers_bound(tmp_path, capsys):
    photo(tmp_path / "in" / "small.png", size=(40, 30))
    photo(tmp_path / "in" / "large.png", size=(60, 50))
    code, _, err = run(capsys, tmp_path / "in", "--out", tmp_path / "out", "--max-pixels", "2000")
    assert code == 1 and "large.png: 60 x 50 = 0 MP is over the limit of 0.002 MP" in err
    assert files_below(tmp_path / "out") == ["small.png"]


def test_batches_are_formed_by_pixels(tmp_path, shipped, monkeypatch):
    monkeypatch.setattr(colorize, "BATCH_PIXELS", 3000)
    for i, size in enumerate([(40, 30), (40, 30), (60, 60), (10, 10), (10, 10)]):
        photo(tmp_path / "in" / f"{i}.png", size=size, seed=i)
    sizes = []
    hook = shipped.register_forward_hook(lambda m, x, y: sizes.append(len(x[0])))
    try:
        list(colorize.colorize_paths(shipped, [tmp_path / "in"], tmp_path / "out", tta="none",
                                     progress=False))
    finally:
        hook.remove()
    # 1200 + 1200 px; 3600 alone (over the budget by itself); 100 + 100
    assert sizes == [2, 1, 2]


def test_conversions_in_stripes_give_what_whole_images_give(monkeypatch):
    rgb = smooth_face(np.random.default_rng(3), 64)[:, :50]
    whole = data.rgb_to_lab(rgb), data.lab_to_rgb(data.lightness(rgb), torch.zeros(1, 2, 64, 50))
    monkeypatch.setattr(data, "STRIPE", 7 * 50)                 # 7 rows a stripe, a short last
    striped = data.rgb_to_lab(rgb), data.lab_to_rgb(data.lightness(rgb), torch.zeros(1, 2, 64, 50))
    assert torch.equal(whole[0], striped[0])
    assert np.array_equal(whole[1], striped[1])
    assert torch.equal(data.lightness(rgb)[0], whole[0][:1])


def test_colorizing_a_photo_holds_a_few_bytes_a_pixel(tmp_path, shipped, monkeypatch):
    """numpy's allocations (what tracemalloc sees) while one 3-MP photo is colorized: its rgb and
    output (3 bytes a pixel each), its L* (4), stripes; float64 copies of the whole photo (the
    8-byte-a-channel Lab, lab2rgb's temporaries: over 100 bytes a pixel) would be caught."""
    monkeypatch.setattr(data, "STRIPE", 2**16)
    Image.fromarray(np.asarray(photo_rgb(2000, 1500))).save(tmp_path / "in.png")
    tracemalloc.start()
    try:
        list(colorize.colorize_paths(shipped, [tmp_path / "in.png"], tmp_path / "out",
                                     progress=False))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (tmp_path / "out" / "in.png").is_file()
    assert peak / (2000 * 1500) < 20


def photo_rgb(width, height):
    coarse = np.random.default_rng(0).integers(0, 256, (4, 5, 3), dtype=np.uint8)
    return Image.fromarray(coarse).resize((width, height), Image.BILINEAR)


def test_a_name_near_the_file_systems_limit_is_written(tmp_path, capsys):
    name = "p" * 247 + ".jpg"                                   # 251 bytes: the output 251 too
    photo(tmp_path / "in" / name)
    code, out, _ = run(capsys, tmp_path / "in", "--out", tmp_path / "out")
    assert code == 0 and files_below(tmp_path / "out") == ["p" * 247 + ".png"]


# ---- checkpoints: settings bounded, shapes compared, before anything large is built ----

def crafted_checkpoint(path, config, model=None):
    save_checkpoint(path, {"config": config, "model": model or {}, "split": {}})
    return path


def evaluate_one_line(capsys, path):
    code = main(["evaluate", "--checkpoint", str(path), "--device", "cpu"])
    return code, stderr_line(capsys.readouterr().err)


@pytest.mark.parametrize("config, says", [
    ({**Config().to_dict(), "widths": [4096] * 7}, "--widths takes one or more whole numbers "
                                                   "from 1 to 1024"),
    ({**Config().to_dict(), "widths": [1024] * 9, "image_size": 1024}, "over the 50 M"),
    ({**Config().to_dict(), "image_size": 2**20}, "image_size takes a power of 2"),
    ({**Config().to_dict(), "widths": "abc"}, "--widths takes a list of whole numbers"),
    ({**Config().to_dict(), "epochs": "many"}, "--epochs takes a whole number"),
    (["not", "a", "mapping"], "settings must be a mapping"),
])
def test_a_checkpoint_declaring_what_no_model_here_has_is_one_line(tmp_path, capsys, config,
                                                                  says):
    path = crafted_checkpoint(tmp_path / "bomb.pt", config)
    assert path.stat().st_size < 4096                           # a few KB on disk
    code, line = evaluate_one_line(capsys, path)
    assert code == 2 and says in line and "bomb.pt" in line


def test_tensor_shapes_are_compared_before_the_model_is_built(tmp_path, capsys, monkeypatch):
    cfg = Config()
    state = build_model(cfg).state_dict()
    name = next(iter(state))
    wrong = {**state, name: torch.zeros(3, 3)}
    path = crafted_checkpoint(tmp_path / "wrong.pt", cfg.to_dict(), wrong)
    built = []
    monkeypatch.setattr("colorizer.checkpoint.build_model",
                        lambda c: built.append(torch.empty(0).device) or build_model(c))
    code, line = evaluate_one_line(capsys, path)
    assert code == 2 and f"{name} (3, 3), expected" in line
    assert all(d.type == "meta" for d in built)                 # only the skeleton was built


# ---- the cache: its index names its own files, its rows inside its array ----

@pytest.mark.parametrize("edit, why", [
    (lambda i: {**i, "array": "../../outside.npy"}, "not a plain .npy file name"),
    (lambda i: {**i, "array": "/etc/passwd"}, "not a plain .npy file name"),
    (lambda i: {**i, "rows": [-1, *i["rows"][1:]]}, "rows outside"),
    (lambda i: {**i, "rows": [10**6, *i["rows"][1:]]}, "rows outside"),
    (lambda i: {**i, "rows": [0.5, *i["rows"][1:]]}, "rows outside"),
])
def test_a_crafted_cache_index_is_rebuilt_never_followed(tiny_folder, tmp_path, edit, why):
    images = cached_images(tiny_folder, 16, report=QUIET)
    entry = images.lab.path.parent
    index = json.loads((entry / "index.json").read_text())
    decoy = np.full(tuple(index["shape"]), 99, np.float16)       # what the index would point at
    np.save(entry.parent.parent / "outside.npy", decoy)
    (entry / "index.json").write_text(json.dumps(edit(index)))
    with pytest.warns(UserWarning, match=why):
        again = cached_images(tiny_folder, 16, report=QUIET)
    assert torch.equal(again.lab[:], images.lab[:])


def test_cache_entries_are_private_to_their_owner(tiny_folder):
    old = os.umask(0o022)                                        # the usual umask
    try:
        images = cached_images(tiny_folder, 16, report=QUIET)
    finally:
        os.umask(old)
    entry = images.lab.path.parent
    assert stat.S_IMODE(entry.stat().st_mode) == 0o700
    for f in entry.iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f.name


# ---- the floors that keep the loaders safe ----

def test_the_install_floors_are_releases_with_safe_loaders():
    import tomllib

    from .test_cli import ROOT

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    listed = project["dependencies"] + sum(project["optional-dependencies"].values(), [])
    floors = {d.split(">=")[0]: tuple(map(int, d.split(">=")[1].split(".")))
              for d in listed if ">=" in d}
    assert floors["torch"] >= (2, 6)                             # CVE-2025-32434
    assert floors["onnx"] >= (1, 21)                             # CVE-2026-27489, -34445
    assert "onnxruntime" in floors


def test_errors_are_colorizer_errors():
    with pytest.raises(ColorizerError):
        Config.from_dict({"widths": [0]})


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
        for i, blob in enumerate(mutations((folder / source).read_bytes(), rng, edit)):
            if name == "model.safetensors":         # a model folder of its own, as users hand it
                path = out / f"model{i}"
                path.mkdir()
                (path / "config.json").write_bytes((folder / "model/config.json").read_bytes())
                (path / "model.safetensors").write_bytes(blob)
            else:
                path = out / f"{i}-{name}"
                path.write_bytes(blob)
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


def fuzz_main(folder):
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
    r = subprocess.run([sys.executable, "-c", f"from tests.test_hostile import fuzz_main; "
                        f"fuzz_main({str(tmp_path)!r})"], capture_output=True, text=True,
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
