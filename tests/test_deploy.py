"""The exported ONNX colorizer against PyTorch's, on the test split."""


import numpy as np
import pytest
import torch
from PIL import Image

from colorizer import ab_mean, evaluate, load_images, load_model, predict, split
from colorizer.cli import main
from colorizer.metrics import ab_mse
from colorizer.models import encode_ab
from colorizer.serving.deploy import OnnxColorizer, export_onnx
from colorizer.serving.pretrained import shipped_weights

from .conftest import require_onnx


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The shipped colorizer exported to ONNX (skipped without onnx / onnxruntime, but in CI)."""
    require_onnx()
    model, ckpt = load_model(shipped_weights(), torch.device("cpu"))
    path = export_onnx(model, tmp_path_factory.mktemp("onnx") / "colorizer.onnx", ckpt["config"])
    return model, OnnxColorizer(path), path


def test_onnxruntime_gives_pytorch_figures_on_the_test_split(exported, real_data):
    model, onnx, _ = exported
    train, test = split(load_images(real_data))
    ours = onnx.predict(test.L)
    theirs = predict(model, test.L)
    assert ours.shape == theirs.shape == (len(test), 2, 128, 128)
    head = model.head
    assert (encode_ab(ours, head) - encode_ab(theirs, head)).abs().max() < 1e-4
    mse_onnx = float(ab_mse(ours, test.ab).mean())
    mse_torch = evaluate(model, test.lab, train_mean=ab_mean(train))["ab_mse"]
    assert abs(mse_onnx - mse_torch) < 0.01


def test_the_batch_axis_is_dynamic_and_flip_averaging_works(exported):
    model, onnx, _ = exported
    for n in (1, 3):
        L = torch.rand(n, 1, 128, 128) * 100
        assert onnx.predict(L).shape == (n, 2, 128, 128)
    L = torch.rand(2, 1, 128, 128) * 100
    plain, flipped = onnx.predict(L), onnx.predict(L, tta="flip")
    assert torch.allclose(flipped, (plain + onnx.predict(L.flip(-1)).flip(-1)) / 2, atol=1e-5)
    assert onnx.side == 128 and onnx.config["head"] == model.head


def test_export_and_colorize_from_the_command_line(exported, tmp_path, capsys):
    _, _, path = exported
    rgb = (np.random.default_rng(0).random((40, 50, 3)) * 255).astype(np.uint8)
    Image.fromarray(rgb).save(tmp_path / "p.png")
    assert main(["onnx", str(tmp_path / "m.onnx")]) == 0
    assert "dynamic batch" in capsys.readouterr().out
    assert main(["colorize", str(tmp_path / "p.png"), "--onnx", str(tmp_path / "m.onnx"),
                 "--out", str(tmp_path / "o"), "--no-progress"]) == 0   # (onnxruntime: CPU)
    assert Image.open(tmp_path / "o" / "p.png").size == (50, 40)
    (tmp_path / "bad.onnx").write_bytes(b"nonsense")
    assert main(["colorize", str(tmp_path / "p.png"), "--onnx", str(tmp_path / "bad.onnx"),
                 "--out", str(tmp_path / "o2")]) == 2
    assert "not a readable ONNX model" in capsys.readouterr().err


def test_export_leaves_the_callers_model_where_and_as_it_was(exported, tmp_path):
    from colorizer import Config
    from colorizer.models import build_model

    model = build_model(Config(widths=(4, 8, 8, 8, 8, 8))).train()
    weight = next(model.parameters())
    export_onnx(model, tmp_path / "m.onnx")
    assert model.training and next(model.parameters()) is weight     # a copy was exported


def crafted(path, source, **metadata):
    """A copy of the exported model at `path` with its metadata entries replaced."""
    import onnx

    graph = onnx.load(str(source))
    kept = [p for p in graph.metadata_props if p.key not in metadata]
    del graph.metadata_props[:]
    graph.metadata_props.extend(kept)
    for key, value in metadata.items():
        graph.metadata_props.add(key=key, value=value)
    onnx.save(graph, str(path))
    return path


@pytest.mark.parametrize("metadata, says", [
    ({"side": "1000000"}, "its metadata says side='1000000' where its graph takes 128 px"),
    ({"side": "abc"}, "its metadata says side='abc'"),
    ({"colorizer_config": "{broken"}, "its colorizer_config metadata is not JSON"),
    ({"colorizer_config": "[1, 2]"}, "is not a JSON object"),
])
def test_crafted_onnx_metadata_is_one_line_and_nothing_written(exported, tmp_path, capsys,
                                                               metadata, says):
    _, _, path = exported
    bad = crafted(tmp_path / "bad.onnx", path, **metadata)
    Image.fromarray(np.full((20, 30, 3), 128, np.uint8)).save(tmp_path / "p.png")
    code = main(["colorize", str(tmp_path / "p.png"), "--onnx", str(bad), "--out",
                 str(tmp_path / "o")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and says in err[0]
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())
