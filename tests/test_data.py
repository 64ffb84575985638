import hashlib

import numpy as np
import pytest
import torch
from PIL import Image

from colorizer import (
    ColorizerError,
    lab_to_rgb,
    load_images,
    read_image,
    resolve_data_dir,
    rgb_to_lab,
    split_names,
)
from colorizer.data import BUNDLED

from .conftest import make_folder


def test_lab_round_trip():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
    lab = rgb_to_lab(rgb)
    assert lab.shape == (2, 3, 16, 16) and lab.dtype == torch.float32
    assert 0 <= lab[:, 0].min() and lab[:, 0].max() <= 100
    back = lab_to_rgb(lab[:, :1], lab[:, 1:])
    assert np.abs(back.astype(int) - rgb).max() <= 1


def test_known_lab_values():
    lab = rgb_to_lab(np.array([[[255, 255, 255], [255, 0, 0]]], dtype=np.uint8))
    assert torch.allclose(lab[:, 0, 0], torch.tensor([100.0, 0.0, 0.0]), atol=0.01)
    assert torch.allclose(lab[:, 0, 1], torch.tensor([53.24, 80.09, 67.20]), atol=0.05)


def test_split_is_seeded_deterministic_and_by_sorted_name():
    names = [f"image{i:05d}.jpg" for i in range(750)]
    train, test = split_names(names, 0.1, seed=0)
    assert (len(train), len(test)) == (675, 75)
    assert not set(train) & set(test) and set(train) | set(test) == set(names)
    assert split_names(list(reversed(names)), 0.1, seed=0) == (train, test)
    assert split_names(names, 0.1, seed=1)[1] != test
    # The split shared/DATA.md describes: numpy's default_rng(0) permutation, first 75 for test.
    perm = np.random.default_rng(0).permutation(750)
    assert test == sorted(names[i] for i in perm[:75])


def test_split_keeps_one_test_image_on_tiny_sets():
    train, test = split_names(["a", "b", "c"], 0.1, seed=0)
    assert len(test) == 1 and len(train) == 2
    with pytest.raises(ColorizerError):
        split_names(["a"], 0.1, 0)


def test_data_dir_precedence(tmp_path, monkeypatch):
    a, b, c = (tmp_path / n for n in "abc")
    for d in (a, b, c / "face_images"):
        d.mkdir(parents=True)
    monkeypatch.chdir(c)
    monkeypatch.setenv("COLORIZER_DATA", str(b))
    assert resolve_data_dir(a) == a
    assert resolve_data_dir() == b
    monkeypatch.delenv("COLORIZER_DATA")
    assert resolve_data_dir().resolve() == (c / "face_images").resolve()
    monkeypatch.chdir(a)                   # no ./face_images: the set the repository carries
    assert resolve_data_dir() == BUNDLED


def test_the_repository_carries_the_face_set():
    data = load_images(BUNDLED, limit=3)      # LICENSE and README.md are not images
    assert data.names == ["image00000.jpg", "image00001.jpg", "image00002.jpg"]
    assert len(list(BUNDLED.glob("*.jpg"))) == 750 and (BUNDLED / "LICENSE").is_file()


def test_missing_folder(tmp_path):
    with pytest.raises(ColorizerError, match="data folder not found: .*nowhere"):
        load_images(tmp_path / "nowhere")


def test_empty_folder(tmp_path):
    (tmp_path / "README.md").write_text("only a readme")
    with pytest.raises(ColorizerError, match="empty"):
        load_images(tmp_path)


def test_no_readable_image(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"not a jpeg")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ColorizerError, match=r"no readable image .*2 file"):
        load_images(tmp_path)


def _digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_bad_files_are_skipped_with_one_warning(tmp_path):
    folder = make_folder(tmp_path / "d", n=4)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 truncated")
    (folder / "notes.txt").write_text("not an image")
    before = _digest(folder)
    with pytest.warns(UserWarning, match="skipped 2 unreadable.*broken.jpg.*notes.txt") as rec:
        data = load_images(folder, size=16)
    assert len([w for w in rec if "unreadable" in str(w.message)]) == 1
    assert len(data) == 4 and data.lab.shape == (4, 3, 16, 16)
    assert _digest(folder) == before          # nothing in the data folder is touched


def test_modes_become_8bit_rgb(tmp_path):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    Image.fromarray(rgb).convert("L").save(tmp_path / "gray.png")
    Image.fromarray(rgb).convert("RGBA").save(tmp_path / "rgba.png")
    Image.fromarray(rgb).convert("P").save(tmp_path / "palette.png")
    g16 = (rng.integers(0, 65536, (16, 16))).astype(np.uint16)
    Image.fromarray(g16).save(tmp_path / "gray16.png")
    for name in ("gray", "rgba", "palette", "gray16"):
        out = read_image(tmp_path / f"{name}.png")
        assert out.shape == (16, 16, 3) and out.dtype == np.uint8, name
    assert np.array_equal(read_image(tmp_path / "rgba.png"), rgb)
    g = read_image(tmp_path / "gray16.png")
    assert np.abs(g[..., 0].astype(int) - np.rint(g16 / 257)).max() <= 1   # scaled, not clipped
    assert (g[..., 0] == g[..., 2]).all()
    data = load_images(tmp_path, size=16)
    assert len(data) == 4 and data.ab.abs().max() < 128


def test_transparent_pixels_go_white(tmp_path):
    rgba = np.zeros((16, 16, 4), dtype=np.uint8)           # fully transparent black
    Image.fromarray(rgba).save(tmp_path / "clear.png")
    assert (read_image(tmp_path / "clear.png") == 255).all()


def test_other_sizes_are_fitted_with_a_warning(tmp_path):
    make_folder(tmp_path, n=2, size=16)
    make_folder(tmp_path / "big", n=1, size=40)
    (tmp_path / "big" / "img000.png").rename(tmp_path / "odd.png")
    with pytest.warns(UserWarning, match="resized/cropped 1 image.*odd.png"):
        data = load_images(tmp_path, size=16)
    assert data.lab.shape == (3, 3, 16, 16)


def test_limit_and_names(tiny_folder):
    assert load_images(tiny_folder, 16, limit=5).names == [f"img{i:03d}.png" for i in range(5)]
    assert load_images(tiny_folder, 16, names=["img007.png", "img002.png"]).names == [
        "img007.png", "img002.png"]
    with pytest.raises(ColorizerError, match="missing"):
        load_images(tiny_folder, 16, names=["img999.png"])


def test_real_face_set(real_data):
    data = load_images(real_data, limit=20)
    assert data.lab.shape == (20, 3, 128, 128)
    assert 0 <= float(data.L.min()) and float(data.L.max()) <= 100
    assert -60 < float(data.ab.min()) and float(data.ab.max()) < 80    # faces: narrow a*b*


def test_a_photo_stored_sideways_is_read_upright(tmp_path):
    from colorizer import read_image

    upright = np.zeros((40, 24, 3), np.uint8)          # 24 wide, 40 tall, as it is viewed
    upright[:10] = 255                                 # white at the top
    stored = Image.fromarray(upright).transpose(Image.Transpose.ROTATE_90)  # stored sideways
    exif = Image.Exif()
    exif[0x0112] = 6                                   # "rotate 90° clockwise to view"
    stored.save(tmp_path / "phone.jpg", exif=exif, quality=95)
    got = read_image(tmp_path / "phone.jpg")
    assert got.shape[:2] == (40, 24)
    assert got[:10].mean() > 200 and got[-10:].mean() < 50
