import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from colorizer import Config, fit, load_images
from colorizer.cli import main
from colorizer.config import ColorizerError
from colorizer.console import QUIET, Reporter
from colorizer.data import list_images, open_images, use_cache
from colorizer.models import build_model
from colorizer.scale import cache
from colorizer.scale.cache import DiskLab, cached_images, fingerprint

from .conftest import child_env, make_folder, tiny_config

ROOT = Path(__file__).resolve().parents[1]
HALF = 0.07     # float16 rounding of L*a*b* values up to 128: below 128 * 2^-11 = 0.0625


def test_the_cache_holds_the_images_in_float16(tiny_folder):
    memory = load_images(tiny_folder, 16)
    disk = cached_images(tiny_folder, 16, report=QUIET)
    assert isinstance(disk.lab, DiskLab) and disk.names == memory.names
    rows = disk.lab[:]
    assert rows.dtype == torch.float32 and rows.shape == memory.lab.shape
    assert (rows - memory.lab).abs().max() < HALF
    idx = torch.tensor([5, 0, 5, 11])
    assert torch.equal(disk.lab[idx], rows[idx])           # any order, repeats allowed
    assert torch.equal(disk.L, rows[:, :1])


def test_nothing_is_written_in_the_data_folder(tiny_folder, cache_in_tmp):
    before = sorted(p.name for p in tiny_folder.rglob("*"))
    cached_images(tiny_folder, 16, report=QUIET)
    assert sorted(p.name for p in tiny_folder.rglob("*")) == before
    assert list(cache_in_tmp.glob("tiny-16px-*/lab-*.npy"))


def test_a_second_run_reuses_the_cache(tiny_folder):
    said = []
    cached_images(tiny_folder, 16, report=Reporter(said.append, progress=False))
    assert len(said) == 1 and said[0].startswith("decoding 12 files")
    lab = cached_images(tiny_folder, 16, report=Reporter(said.append, progress=False)).lab
    assert len(said) == 1                                    # nothing decoded again
    assert lab.path.stat().st_size > 12 * 3 * 16 * 16 * 2


def test_a_changed_folder_is_decoded_again(tiny_folder):
    first = cached_images(tiny_folder, 16, report=QUIET).lab[:]
    make_folder(tiny_folder, n=14, seed=1)      # two files added, twelve replaced
    said = []
    second = cached_images(tiny_folder, 16, report=Reporter(said.append, progress=False))
    assert "changed" in said[0] and len(second) == 14
    assert not torch.equal(second.lab[:12], first)
    assert torch.allclose(second.lab[:], load_images(tiny_folder, 16).lab, atol=HALF)


def test_fingerprint_follows_every_file(tiny_folder):
    stamp = fingerprint(list_images(tiny_folder))
    (tiny_folder / "img000.png").touch()
    os.utime(tiny_folder / "img000.png", ns=(1, 1))
    assert fingerprint(list_images(tiny_folder)) != stamp


def test_parallel_decoding_writes_what_one_process_writes(tmp_path):
    folder = make_folder(tmp_path / "many", n=300, size=16)
    one = cached_images(folder, 16, tmp_path / "c1", workers=1, report=QUIET)
    two = cached_images(folder, 16, tmp_path / "c2", workers=2, report=QUIET)
    assert one.names == two.names and torch.equal(one.lab[:], two.lab[:])


def test_unreadable_files_are_skipped_counted_and_listed(tiny_folder, tmp_path):
    (tiny_folder / "broken.jpg").write_bytes(b"not a jpeg")
    with pytest.warns(UserWarning, match=r"skipped 1 unreadable file\(s\).*broken.jpg"):
        images = cached_images(tiny_folder, 16, report=QUIET)
    assert len(images) == 12 and images.skipped == ["broken.jpg"]
    cfg = tiny_config(data=str(tiny_folder), cache="on", epochs=1)
    run = fit(cfg, tmp_path / "run", report=QUIET)
    assert (run.out_dir / "skipped.txt").read_text() == "broken.jpg\n"


def test_the_cache_may_not_live_in_the_data_folder(tiny_folder):
    with pytest.raises(ColorizerError, match="inside the data folder"):
        cached_images(tiny_folder, 16, tiny_folder / "cache", report=QUIET)
    assert not (tiny_folder / "cache").exists()


def test_an_unwritable_cache_location_is_one_line(tiny_folder, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    code = main(["cache", "--data", str(tiny_folder), "--image-size", "16", "--cache-dir",
                 str(blocker / "cache")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("colorizer: error: cannot write the image cache")
    assert len(err.strip().splitlines()) == 1


def _index_of(images):
    return images.lab.path.parent / "index.json"


def test_a_cache_built_for_another_folder_is_rebuilt(tiny_folder, tmp_path):
    images = cached_images(tiny_folder, 16, report=QUIET)
    index = json.loads(_index_of(images).read_text())
    index["folder"] = str(tmp_path / "elsewhere")
    _index_of(images).write_text(json.dumps(index))
    with pytest.warns(UserWarning, match="does not match its index.*elsewhere.*rebuilding"):
        again = cached_images(tiny_folder, 16, report=QUIET)
    assert torch.equal(again.lab[:], images.lab[:])


def test_a_cut_short_array_is_rebuilt_not_read(tiny_folder):
    images = cached_images(tiny_folder, 16, report=QUIET)
    whole = images.lab[:]
    path = images.lab.path
    path.write_bytes(path.read_bytes()[:1000])          # a full disk, a killed copy
    with pytest.warns(UserWarning, match="cut short.*rebuilding") as said:
        again = cached_images(tiny_folder, 16, report=QUIET)
    assert len(said) == 1
    assert torch.equal(again.lab[:], whole)


@pytest.mark.parametrize("damage", ["{not json", "[]", '{"version": 2}'])
def test_a_damaged_index_is_rebuilt(tiny_folder, damage):
    images = cached_images(tiny_folder, 16, report=QUIET)
    _index_of(images).write_text(damage)
    with pytest.warns(UserWarning, match="rebuilding"):
        again = cached_images(tiny_folder, 16, report=QUIET)
    assert torch.equal(again.lab[:], images.lab[:])


def test_a_neighbour_building_the_same_cache_meanwhile(tiny_folder, monkeypatch):
    """A second process that builds the entry while the first decodes: both end with it."""
    real = cache.report_decoding
    neighbour = []

    def report_then_let_the_neighbour_build(*args):
        real(*args)
        if not neighbour:
            monkeypatch.setattr(cache, "report_decoding", real)
            neighbour.append(cached_images(tiny_folder, 16, report=QUIET))

    monkeypatch.setattr(cache, "report_decoding", report_then_let_the_neighbour_build)
    first = cached_images(tiny_folder, 16, report=QUIET)
    assert neighbour and torch.equal(first.lab[:], neighbour[0].lab[:])
    entry = first.lab.path.parent
    assert sorted(p.name for p in entry.iterdir()) == ["index.json", first.lab.path.name]
    assert torch.allclose(cached_images(tiny_folder, 16, report=QUIET).lab[:],
                          load_images(tiny_folder, 16).lab, atol=HALF)


def test_two_processes_build_one_cache_at_once(tmp_path):
    folder = make_folder(tmp_path / "many", n=400, size=16)
    env = child_env(COLORIZER_CACHE=str(tmp_path / "c"))
    cmd = [sys.executable, "-m", "colorizer", "cache", "--data", str(folder), "--image-size",
           "16", "--workers", "1"]
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        assert out.splitlines()[-1].startswith("400 images of 16 px cached")


def test_auto_caches_large_sets_only(tiny_folder):
    assert isinstance(open_images(tiny_config(data=str(tiny_folder))).lab, torch.Tensor)
    assert isinstance(open_images(tiny_config(data=str(tiny_folder), cache="on")).lab, DiskLab)
    assert not use_cache("auto", 2700, 128) and use_cache("auto", 2800, 128)   # 512 MB
    assert use_cache("on", 1, 16) and not use_cache("off", 10**6, 128)


def test_training_from_the_cache_matches_training_from_memory(tiny_folder, tmp_path):
    runs = [fit(tiny_config(data=str(tiny_folder), cache=c, epochs=2), tmp_path / c, report=QUIET)
            for c in ("off", "on")]
    assert runs[0].test.names == runs[1].test.names
    memory, disk = (r.metrics["ab_mse"] for r in runs)
    assert disk == pytest.approx(memory, rel=0.02)
    assert len(list((tmp_path / "on" / "triples").glob("*.png"))) == len(runs[1].test)


def test_cache_command_reports_the_entry(tiny_folder, capsys):
    assert main(["cache", "--data", str(tiny_folder), "--image-size", "16"]) == 0
    last = capsys.readouterr().out.splitlines()[-1]
    assert last.startswith("12 images of 16 px cached in ") and "0 unreadable" in last


@pytest.mark.parametrize("size, depth", [(128, 7), (256, 8), (64, 6)])
def test_image_size_sets_the_depth(size, depth):
    cfg = Config(image_size=size, stem="conv")
    model = build_model(cfg)
    assert cfg.depth == depth and sum(isinstance(m, torch.nn.Conv2d)
                                      for m in model.encoder) == depth
    out = model(torch.zeros(2, 1, size, size))
    assert out.shape == (2, 2, size // cfg.ab_stride, size // cfg.ab_stride)
    assert model.decode(out).shape == (2, 2, size, size)


def test_image_size_default_keeps_the_study_model():
    assert Config().image_size == 128 and Config(widths=(4, 8, 8)).image_size == 16


@pytest.mark.parametrize("size", [100, 32, 0])
def test_bad_image_sizes_are_refused(size):
    with pytest.raises(ColorizerError, match="image_size takes a power of 2 from 64"):
        Config(image_size=size)


def test_training_at_twice_the_side(tiny_folder, tmp_path):
    cfg = tiny_config(data=str(tiny_folder), image_size=32, epochs=1, cache="on")
    run = fit(cfg, tmp_path / "run", report=QUIET)
    assert run.train.lab[:1].shape == (1, 3, 32, 32) and np.isfinite(run.metrics["ab_mse"])
