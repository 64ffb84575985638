"""Model folders (save_pretrained / from_pretrained), torch.hub, and a run exported as one: each
round trip ends on the figures it started from."""

import json

import pytest
import torch

from colorizer import evaluate, fit, from_pretrained, load_images, pretrained, save_pretrained
from colorizer.cli import main
from colorizer.config import ColorizerError
from colorizer.console import QUIET
from colorizer.serving.pretrained import SHIPPED_DIR

from .conftest import ROOT, tiny_config


@pytest.fixture(scope="module")
def test_faces(real_data):
    from colorizer import split

    return split(load_images(real_data))[1]


def figures(model, test):
    return evaluate(model, test.lab)["ab_mse"]


def test_the_shipped_model_round_trips_through_a_model_folder(tmp_path, test_faces):
    shipped = pretrained(torch.device("cpu"))
    assert figures(from_pretrained(SHIPPED_DIR, torch.device("cpu")), test_faces) == \
        figures(shipped, test_faces)                          # the package's own folder
    for int8 in (True, False):
        folder = save_pretrained(shipped, tmp_path / f"int8-{int8}", int8=int8)
        assert sorted(p.name for p in folder.iterdir()) == ["README.md", "config.json",
                                                            "model.safetensors"]
        again = from_pretrained(folder, torch.device("cpu"))
        assert figures(again, test_faces) == pytest.approx(figures(shipped, test_faces),
                                                           rel=1e-6)
        assert json.loads((folder / "config.json").read_text())["widths"] == list(
            shipped.config.widths)
    assert "pipeline_tag: image-to-image" in (tmp_path / "int8-True" / "README.md").read_text()


def test_torch_hub_loads_the_checkout(test_faces):
    model = torch.hub.load(str(ROOT), "colorizer", source="local")
    assert figures(model, test_faces) == figures(pretrained(torch.device("cpu")), test_faces)


def test_a_folder_whose_config_disagrees_with_its_weights_is_refused(tmp_path):
    folder = save_pretrained(pretrained(torch.device("cpu")), tmp_path / "m")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "head": "tanh"}))
    with pytest.raises(ColorizerError, match="does not describe the model"):
        from_pretrained(folder, torch.device("cpu"))


def test_a_repo_id_without_a_network_is_one_line():
    pytest.importorskip("huggingface_hub")
    with pytest.raises(ColorizerError, match="cannot fetch someone/no-such-colorizer"):
        from_pretrained("someone/no-such-colorizer")


def test_a_run_folder_becomes_a_model_folder(tiny_folder, tmp_path, capsys):
    run = fit(tiny_config(epochs=1, data=str(tiny_folder)), tmp_path / "run", report=QUIET)
    assert main(["export", str(tmp_path / "run"), "--out", str(tmp_path / "model")]) == 0
    assert "exported" in capsys.readouterr().out
    model = from_pretrained(tmp_path / "model", torch.device("cpu"))
    shipped = evaluate(model, run.test.lab)["ab_mse"]
    assert shipped == pytest.approx(run.metrics["ab_mse"], rel=0.05)   # int8: within 5 %
    assert (tmp_path / "model" / "README.md").read_text().startswith("---\nlicense: mit")
