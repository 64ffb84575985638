"""colorize on folders of real files: it never replaces an input, never writes two inputs to one
output, keeps what is there, and says in one line what went wrong."""

import numpy as np
import pytest
import torch
from PIL import Image

from colorizer import colorize, load_model, predict
from colorizer.cli import main
from colorizer.config import ColorizerError
from colorizer.serving.pretrained import shipped_weights

from .conftest import smooth_face


@pytest.fixture(scope="module")
def shipped():
    return load_model(shipped_weights(), torch.device("cpu"))[0]


def photo(path, size=(40, 30), seed=0, gray=False):
    """A small colour (or gray) image file at `path`; returns its bytes."""
    rgb = smooth_face(np.random.default_rng(seed), 64)[:size[1], :size[0]]
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.fromarray(rgb)
    (img.convert("L") if gray else img).save(path)
    return path.read_bytes()


def run(capsys, *args):
    code = main(["colorize", *map(str, args), "--no-progress", "--device", "cpu"])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err):
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("colorizer: error:"), err
    return lines[0]


def files_below(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_same_names_in_two_folders_give_two_outputs(tmp_path, capsys):
    photo(tmp_path / "a" / "IMG_0001.jpg", seed=1)
    photo(tmp_path / "b" / "IMG_0001.jpg", seed=2)
    code, out, _ = run(capsys, tmp_path / "a" / "IMG_0001.jpg", tmp_path / "b" / "IMG_0001.jpg",
                       "--out", tmp_path / "out")
    assert code == 0
    assert files_below(tmp_path / "out") == ["a/IMG_0001.png", "b/IMG_0001.png"]
    a, b = (np.asarray(Image.open(tmp_path / "out" / d / "IMG_0001.png")) for d in "ab")
    assert not np.array_equal(a, b)
    assert out.splitlines()[-1].startswith("2 written, 0 kept, 0 failed")


def test_two_folders_map_to_their_own_subtrees(tmp_path, capsys):
    photo(tmp_path / "trip" / "p.jpg")
    photo(tmp_path / "home" / "p.jpg")
    code, _, _ = run(capsys, tmp_path / "trip", tmp_path / "home", "--out", tmp_path / "out")
    assert code == 0 and files_below(tmp_path / "out") == ["home/p.png", "trip/p.png"]


def test_clashing_names_keep_their_extension(tmp_path, capsys):
    photo(tmp_path / "in" / "p.jpg", seed=1)
    photo(tmp_path / "in" / "p.png", seed=2)
    photo(tmp_path / "in" / "q.jpg", seed=3)
    code, out, _ = run(capsys, tmp_path / "in", "--out", tmp_path / "out")
    assert code == 0
    assert files_below(tmp_path / "out") == ["p.jpg.png", "p.png.png", "q.png"]
    assert out.splitlines()[-1].startswith("3 written")


def test_an_output_on_an_input_is_refused_before_anything_is_written(tmp_path, capsys):
    folder = tmp_path / "photos"
    before = {name: photo(folder / name, seed=i) for i, name in enumerate(["x.png", "y.jpg"])}
    code, _, err = run(capsys, folder, "--out", folder)
    assert code == 2 and "would replace an input" in one_line_error(err)
    assert files_below(folder) == sorted(before)
    assert all((folder / n).read_bytes() == b for n, b in before.items())


def test_subfolders_are_searched_hidden_ones_and_the_output_folder_left_out(tmp_path, capsys):
    folder = tmp_path / "photos"
    photo(folder / "top.jpg")
    photo(folder / "2024" / "june" / "deep.jpg")
    photo(folder / ".thumbnails" / "t.jpg")
    photo(folder / ".hidden.jpg")
    out = folder / "colorized"
    photo(out / "old.png")                           # an earlier run's output, not an input
    code, text, _ = run(capsys, folder, "--out", out)
    assert code == 0
    assert files_below(out) == ["2024/june/deep.png", "old.png", "top.png"]
    assert text.splitlines()[-1].startswith("2 written")


def test_existing_outputs_are_kept_unless_overwrite(tmp_path, capsys):
    photo(tmp_path / "in" / "a.jpg")
    photo(tmp_path / "in" / "b.jpg", seed=1)
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.png").write_bytes(b"mine")
    code, text, _ = run(capsys, tmp_path / "in", "--out", out)
    assert code == 0 and (out / "a.png").read_bytes() == b"mine"
    assert text.splitlines()[-1].startswith("1 written, 1 kept")
    code, text, _ = run(capsys, tmp_path / "in", "--out", out, "--overwrite")
    assert code == 0 and text.splitlines()[-1].startswith("2 written, 0 kept")
    assert Image.open(out / "a.png").size == (40, 30)


def test_bad_inputs_are_reported_and_counted_the_exit_code_says_so(tmp_path, capsys):
    photo(tmp_path / "in" / "good.jpg")
    (tmp_path / "in" / "bad.jpg").write_bytes(b"not an image")
    code, text, err = run(capsys, tmp_path / "in", tmp_path / "missing.png", "--out",
                          tmp_path / "out")
    assert code == 1 and "Traceback" not in err
    assert "bad.jpg" in err and "missing.png" in err
    assert text.splitlines()[-1].startswith("1 written, 0 kept, 2 failed")


def test_an_input_that_vanishes_while_running(tmp_path, monkeypatch, shipped):
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        photo(tmp_path / "in" / name)
    real = colorize.read_image

    def vanish_b(path, *limit):
        if path.name == "b.jpg":
            path.unlink()
        return real(path, *limit)

    monkeypatch.setattr(colorize, "read_image", vanish_b)
    outcomes = dict(colorize.colorize_paths(shipped, [tmp_path / "in"], tmp_path / "out",
                                            progress=False))
    by_name = {p.name: o for p, o in outcomes.items()}
    assert isinstance(by_name["b.jpg"], ColorizerError)
    assert files_below(tmp_path / "out") == ["a.png", "c.png"]


@pytest.mark.parametrize("where", ["file", "below_a_file"])
def test_an_out_that_cannot_be_a_folder_is_one_line(tmp_path, capsys, where):
    photo(tmp_path / "p.jpg")
    blocker = tmp_path / "some_file"
    blocker.write_text("")
    out = blocker if where == "file" else blocker / "out"
    code, _, err = run(capsys, tmp_path / "p.jpg", "--out", out)
    assert code == 2 and "some_file" in one_line_error(err)


def test_compare_puts_gray_colorized_and_original_side_by_side(tmp_path, capsys):
    photo(tmp_path / "in" / "colour.jpg", size=(40, 30))
    photo(tmp_path / "in" / "gray.png", size=(40, 30), gray=True)
    code, _, _ = run(capsys, tmp_path / "in", "--out", tmp_path / "out", "--compare")
    assert code == 0
    strip = np.asarray(Image.open(tmp_path / "out" / "colour.png"))
    assert strip.shape == (30, 120, 3)
    assert (strip[:, :40] == strip[:, :40, :1]).all()            # the grayscale panel
    assert not (strip[:, 40:80] == strip[:, 40:80, :1]).all()    # colorized
    assert np.asarray(Image.open(tmp_path / "out" / "gray.png")).shape == (30, 80, 3)


def test_the_network_runs_on_batches(tmp_path, shipped):
    for i in range(5):
        photo(tmp_path / "in" / f"{i}.jpg", size=(30 + i, 20 + 2 * i), seed=i)
    sizes = []
    hook = shipped.register_forward_hook(lambda m, x, y: sizes.append(len(x[0])))
    try:
        outcomes = list(colorize.colorize_paths(shipped, [tmp_path / "in"], tmp_path / "out",
                                                tta="none", progress=False))
    finally:
        hook.remove()
    assert len(outcomes) == 5 and sizes == [5]
    for i in range(5):                                  # each keeps its own size
        assert Image.open(tmp_path / "out" / f"{i}.png").size == (30 + i, 20 + 2 * i)


def test_a_batch_gives_what_one_image_at_a_time_gives(shipped):
    rng = np.random.default_rng(0)
    images = [smooth_face(rng, 64)[:50, :40], smooth_face(rng, 64)[:33, :61]]
    together = colorize.colorize_batch(shipped, images)
    alone = [colorize.colorize_rgb(shipped, rgb) for rgb in images]
    for a, b in zip(together, alone):
        assert np.abs(a.astype(int) - b.astype(int)).max() <= 1


def test_flip_averaging_is_the_mean_of_both_views(shipped):
    L = torch.rand(3, 1, 128, 128) * 100
    plain = predict(shipped, L, tta="none")
    mirrored = predict(shipped, L.flip(-1), tta="none").flip(-1)
    flipped = predict(shipped, L, tta="flip")
    assert torch.allclose(flipped, (plain + mirrored) / 2, atol=1e-5)
    assert not torch.allclose(flipped, plain, atol=1e-3)
    with pytest.raises(ColorizerError, match="--tta"):
        predict(shipped, L, tta="rotate")


def test_progress_bar_over_the_inputs(tmp_path, capsys, shipped):
    photo(tmp_path / "in" / "a.jpg")
    list(colorize.colorize_paths(shipped, [tmp_path / "in"], tmp_path / "out", progress=True))
    assert "colorize" in capsys.readouterr().err


def test_saturation_is_a_gain_on_the_predicted_chroma(tmp_path, capsys):
    photo(tmp_path / "p.png", size=(48, 40), seed=3)
    chroma = {}
    for s in ("0", "1", "2"):
        code, _, _ = run(capsys, tmp_path / "p.png", "--out", tmp_path / s, "--saturation", s)
        rgb = np.asarray(Image.open(tmp_path / s / "p.png")).astype(int)
        chroma[s] = np.abs(rgb - rgb.mean(-1, keepdims=True)).mean()
        assert code == 0
    assert chroma["0"] < 1 < chroma["1"] < chroma["2"]           # 0: gray, 2: more colour
    with pytest.raises(SystemExit):                              # argparse: exit 2, one line
        run(capsys, tmp_path / "p.png", "--out", tmp_path / "x", "--saturation", "-1")
    assert "expected a number from 0 to 10" in capsys.readouterr().err


def test_outputs_say_they_are_colorized_and_keep_the_inputs_profile_and_exif(tmp_path, capsys):
    from PIL import ImageCms

    import colorizer

    rgb = smooth_face(np.random.default_rng(5), 64)[:24, :40]      # stored 40 wide, 24 high
    exif = Image.Exif()
    exif[0x0112] = 6                                                # viewed rotated: 24 x 40
    exif[0x010F] = "a camera"
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(rgb).save(tmp_path / "phone.jpg", exif=exif, icc_profile=icc)
    code, _, _ = run(capsys, tmp_path / "phone.jpg", "--out", tmp_path / "o")
    out = Image.open(tmp_path / "o" / "phone.png")
    assert code == 0 and out.size == (24, 40)                        # written upright
    assert out.text["Software"] == f"colorizer {colorizer.__version__}"
    assert "colorized by colorizer" in out.text["Description"]
    assert "shipped colorizer, sha256 " in out.text["Description"]
    assert out.info["icc_profile"] == icc
    kept = out.getexif()
    assert kept[0x010F] == "a camera" and kept[0x0112] == 1          # upright now: no rotation
    code, _, _ = run(capsys, tmp_path / "phone.jpg", "--out", tmp_path / "bare", "--no-metadata")
    bare = Image.open(tmp_path / "bare" / "phone.png")
    assert code == 0 and not bare.text and "icc_profile" not in bare.info
    assert not bare.getexif()


def test_every_way_in_makes_the_same_picture_by_default():
    """predict, evaluate, colorize (API, files, CLI), ONNX: one default decoding, TTA_DEFAULT."""
    import inspect

    from colorizer import colorize as C
    from colorizer.cli import build_parser
    from colorizer.evaluation import TTA_DEFAULT, evaluate
    from colorizer.serving.deploy import OnnxColorizer

    for f in (predict, evaluate, C.chroma, C.colorize_rgb, C.colorize_batch,
              OnnxColorizer.predict):
        assert inspect.signature(f).parameters["tta"].default == TTA_DEFAULT, f.__name__
    assert C.Options().tta == TTA_DEFAULT
    for command in (["evaluate"], ["colorize", "x.png", "--out", "o"]):
        assert build_parser().parse_args(command).tta == TTA_DEFAULT
