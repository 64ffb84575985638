import json
import os
from dataclasses import replace

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from colorizer import (
    Colorizer,
    ColorizerError,
    Regressor,
    fit,
    load_checkpoint,
    load_images,
    load_model,
    restore,
    train_one_epoch,
)
from colorizer import train as train_module
from colorizer.checkpoint import CHECKPOINT
from colorizer.console import QUIET
from colorizer.devices import configure_backends, native_bf16
from colorizer.models import build_model
from colorizer.train import (
    OneProcess,
    Training,
    batch_indices,
    build_optimizer,
    build_schedule,
    with_precision,
)
from research.runs import epochs_done

from .conftest import make_folder, tiny_config


def test_batches_cover_every_image_and_never_leave_one_alone():
    g = torch.Generator().manual_seed(0)
    for n, bs in [(9, 4), (10, 3), (12, 8)]:
        batches = batch_indices(n, bs, 3, g)
        idx = torch.cat(batches)
        assert torch.bincount(idx, minlength=n).tolist() == [3] * n
        assert all(len(b) >= 2 for b in batches)


@pytest.mark.parametrize("kind,head", [("colorizer", "tanh"), ("colorizer", "sigmoid"),
                                       ("regressor", "sigmoid")])
def test_loss_falls_when_overfitting_a_few_tiny_images(tiny_data, kind, head):
    cfg = tiny_config(model=kind, head=head, lr=1e-2, augment_factor=8, flip=False,
                      crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0))
    torch.manual_seed(0)
    model = (Colorizer if kind == "colorizer" else Regressor)(widths=cfg.widths, head=head)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    g = torch.Generator().manual_seed(0)
    lab = tiny_data.lab[:4]
    losses = [train_one_epoch(Training(model, opt, g), lab, cfg) for _ in range(15)]
    assert losses[-1] < 0.3 * losses[0]


def test_fit_writes_a_run_folder(tiny_data, tmp_path):
    run = fit(tiny_config(epochs=2), tmp_path / "run", data=tiny_data, report=QUIET)
    out = tmp_path / "run"
    for name in ("checkpoint.pt", "history.json", "metrics.json", "split.json", "loss.png"):
        assert (out / name).is_file(), name
    assert not list(out.glob("*.tmp"))
    split = json.loads((out / "split.json").read_text())
    assert len(split["test"]) == 1 and len(split["train"]) == 11
    assert sorted(p.stem for p in (out / "triples").iterdir()) == [
        n.rsplit(".", 1)[0] for n in split["test"]]
    history = json.loads((out / "history.json").read_text())
    assert len(history["train_loss"]) == 2 and len(history["test_error"]) == 2
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["ab_mse"] == pytest.approx(history["test_error"][-1])
    assert metrics["ab_mse"] == pytest.approx(run.metrics["ab_mse"])


def test_regressor_run_writes_prediction_table(tiny_data, tmp_path):
    fit(tiny_config(model="regressor", epochs=1), tmp_path, data=tiny_data, report=QUIET)
    rows = (tmp_path / "predictions.csv").read_text().splitlines()
    assert rows[0] == "image,pred_a,pred_b,true_a,true_b" and len(rows) == 2
    assert "mean_ab_mse" in json.loads((tmp_path / "metrics.json").read_text())


def test_checkpoint_round_trip(tiny_data, tmp_path):
    run = fit(tiny_config(epochs=1), tmp_path, data=tiny_data, report=QUIET)
    ckpt = load_checkpoint(tmp_path / CHECKPOINT)
    assert {"model", "optimizer", "config", "epoch", "history", "split", "rng"} <= ckpt.keys()
    model, _ = load_model(tmp_path / CHECKPOINT, torch.device("cpu"))
    x = tiny_data.L[:3]
    run.model.eval()
    assert torch.allclose(model(x), run.model(x))


def test_resume_extends_a_constant_rate_run_exactly(tiny_data, tmp_path):
    cfg = tiny_config(epochs=3, schedule="constant")
    straight = fit(cfg, tmp_path / "a", data=tiny_data, report=QUIET)
    fit(replace(cfg, epochs=1), tmp_path / "b", data=tiny_data, report=QUIET)
    resumed = fit(cfg, tmp_path / "b", resume=True, data=tiny_data, report=QUIET)
    assert len(resumed.history["train_loss"]) == 3
    assert resumed.history["train_loss"] == pytest.approx(straight.history["train_loss"], rel=1e-4)
    for (k, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.allclose(a.float(), b.float(), atol=1e-5), k


def test_wrong_model_or_head_is_refused(tiny_data, tmp_path):
    fit(tiny_config(epochs=1, head="tanh"), tmp_path, data=tiny_data, report=QUIET)
    ckpt = load_checkpoint(tmp_path / CHECKPOINT)
    with pytest.raises(ColorizerError, match="colorizer with a tanh head.*regressor"):
        restore(Regressor(widths=(4, 8, 8), head="tanh"), ckpt)
    with pytest.raises(ColorizerError, match="sigmoid"):
        restore(Colorizer(widths=(4, 8, 8), head="sigmoid"), ckpt)
    with pytest.raises(ColorizerError, match="widths"):
        restore(Colorizer(widths=(4, 8, 16), head="tanh"), ckpt)


def test_bad_checkpoint_files(tmp_path):
    with pytest.raises(ColorizerError, match="not found"):
        load_checkpoint(tmp_path / "nope.pt")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(ColorizerError, match="not a readable checkpoint"):
        load_checkpoint(tmp_path / "junk.pt")
    torch.save({"weights": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(ColorizerError, match="not a colorizer checkpoint"):
        load_checkpoint(tmp_path / "other.pt")


def test_init_from_starts_at_another_runs_weights(tiny_data, tmp_path):
    fit(tiny_config(epochs=1), tmp_path / "a", data=tiny_data, report=QUIET)
    start = load_checkpoint(tmp_path / "a" / CHECKPOINT)["model"]
    cfg = tiny_config(epochs=1, init_from=str(tmp_path / "a" / CHECKPOINT), lr=1e-9,
                      schedule="constant")
    tuned = fit(cfg, None, data=tiny_data, report=QUIET)
    w = "encoder.0.weight"             # at lr 1e-9 one epoch leaves the weights where they were
    assert torch.allclose(tuned.model.state_dict()[w], start[w], atol=1e-6)
    with pytest.raises(ColorizerError, match="sigmoid head.*tanh head"):
        fit(replace(cfg, head="tanh"), None, data=tiny_data, report=QUIET)
    with pytest.raises(ColorizerError, match="--init-from takes an existing checkpoint"):
        fit(tiny_config(init_from=str(tmp_path / "nothing.pt")), None, data=tiny_data,
            report=QUIET)
    # the tuned run's checkpoint loads once the one it started from is gone
    fit(cfg, tmp_path / "tuned", data=tiny_data, report=QUIET)
    (tmp_path / "a" / CHECKPOINT).unlink()
    model, _ = load_model(tmp_path / "tuned" / CHECKPOINT, "cpu")
    assert torch.equal(model.state_dict()[w], tuned.model.state_dict()[w])


def test_a_folder_is_searched_through_its_subfolders(tmp_path):
    make_folder(tmp_path / "d" / "holiday", n=3)
    make_folder(tmp_path / "d" / "work" / "2024", n=2)
    make_folder(tmp_path / "d" / ".cache", n=2)                # hidden: left out
    data = load_images(tmp_path / "d", size=16)
    assert data.names == ["holiday/img000.png", "holiday/img001.png", "holiday/img002.png",
                          "work/2024/img000.png", "work/2024/img001.png"]
    run = fit(tiny_config(epochs=1), tmp_path / "run", data=data, report=QUIET)
    assert [p.name for p in (tmp_path / "run" / "triples").iterdir()] == [
        n.replace("/", "__").replace(".png", "") + ".png" for n in run.test.names]


class DeviceTraffic(TorchDispatchMode):
    """Counts what makes a host wait for a device: reads of a device tensor's value (`.item()`,
    `float()`) and copies between devices."""

    def __init__(self):
        super().__init__()
        self.reads, self.copies = 0, 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = func.overloadpacket.__name__
        if name == "_local_scalar_dense" and args[0].device.type != "cpu":
            self.reads += 1
        if name == "_to_copy" and torch.device(kwargs.get("device", args[0].device)) != \
                args[0].device:
            self.copies += 1
        if name == "copy_" and args[0].device != args[1].device:
            self.copies += 1
        return func(*args, **kwargs)


@pytest.mark.parametrize("head", ["sigmoid", "classify", "tanh"])
def test_training_steps_never_wait_for_the_device(monkeypatch, head):
    """On the meta device, standing in for a GPU (reading a value there fails): an epoch copies
    its draws over once, whatever its length, and reads no value (the loss is summed there)."""
    monkeypatch.setattr(OneProcess, "total", lambda self, *values: (0.0, 1))
    traffic = {}
    for repeats in (2, 6):
        # (the fused update has no meta kernel: build_optimizer fuses on CPU and CUDA only; on
        # CUDA it is one kernel, which waits for nothing)
        cfg = tiny_config(batch_size=4, augment_factor=repeats, head=head)
        model = build_model(cfg).to("meta")
        optimizer = build_optimizer(cfg, model)
        lab = torch.zeros(12, 3, 16, 16, device="meta")
        train_one_epoch(Training(model, optimizer, torch.Generator().manual_seed(0),
                                 build_schedule(cfg, optimizer, 100)),
                        lab, cfg)
        with DeviceTraffic() as seen:           # (the first epoch copied any constant tables)
            train_one_epoch(Training(model, optimizer, torch.Generator().manual_seed(0),
                                     build_schedule(cfg, optimizer, 100)),
                            lab, cfg)
        traffic[repeats] = (seen.reads, seen.copies)
    assert traffic[2] == traffic[6] == (0, 2)     # 6 and 18 steps: the indices and the draws


def test_checkpoints_every_n_epochs_and_after_the_last(tiny_folder, tmp_path, monkeypatch):
    saved = []
    real = train_module.save_checkpoint
    monkeypatch.setattr(train_module, "save_checkpoint",
                        lambda path, ckpt: saved.append(ckpt["epoch"]) or real(path, ckpt))
    cfg = tiny_config(data=str(tiny_folder), epochs=5, checkpoint_every=2)
    fit(cfg, tmp_path / "run", report=QUIET)
    assert saved == [2, 4, 5]
    assert load_checkpoint(tmp_path / "run" / CHECKPOINT)["epoch"] == 5


def test_backends_are_set_up_for_cuda_and_left_alone_on_the_cpu(monkeypatch):
    backends = torch.backends
    keep = (backends.cudnn.benchmark, backends.cudnn.deterministic, backends.cudnn.allow_tf32,
            backends.cuda.matmul.allow_tf32, torch.are_deterministic_algorithms_enabled(),
            torch.is_deterministic_algorithms_warn_only_enabled())
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    try:
        torch.use_deterministic_algorithms(False)      # (whatever an earlier test left)
        configure_backends(torch.device("cpu"))
        assert not torch.are_deterministic_algorithms_enabled()
        configure_backends(torch.device("cuda"))
        assert backends.cudnn.deterministic and not backends.cudnn.benchmark
        assert not backends.cudnn.allow_tf32 and not backends.cuda.matmul.allow_tf32
        assert torch.are_deterministic_algorithms_enabled()
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    finally:
        (backends.cudnn.benchmark, backends.cudnn.deterministic, backends.cudnn.allow_tf32,
         backends.cuda.matmul.allow_tf32) = keep[:4]
        torch.use_deterministic_algorithms(keep[4], warn_only=keep[5])


def test_bfloat16_precision_trains_the_forward_pass_in_bfloat16(tiny_data):
    dtypes = {}
    for precision in ("float32", "bfloat16"):
        cfg = tiny_config(precision=precision)
        torch.manual_seed(0)
        model = build_model(cfg)
        seen = []
        model.decoder.register_forward_hook(lambda m, i, o, seen=seen: seen.append(o.dtype))
        loss = train_one_epoch(Training(model, build_optimizer(cfg, model),
                                        torch.Generator().manual_seed(0)), tiny_data.lab, cfg)
        assert torch.isfinite(torch.as_tensor(loss))
        assert all(p.dtype == torch.float32 for p in model.parameters())   # the weights stay
        dtypes[precision] = set(seen)
    assert dtypes == {"float32": {torch.float32}, "bfloat16": {torch.bfloat16}}


def test_precision_auto_is_bfloat16_only_where_the_device_computes_it_natively(monkeypatch):
    for native, expected in ((True, "bfloat16"), (False, "float32")):
        monkeypatch.setattr(train_module, "native_bf16", lambda device, v=native: v)
        assert with_precision(tiny_config(precision="auto"), "cpu").precision == expected
        for asked in ("float32", "bfloat16"):                   # an explicit choice stands
            assert with_precision(tiny_config(precision=asked), "cpu").precision == asked
    assert with_precision(tiny_config(precision="auto"), "meta").precision == "float32"


@pytest.mark.parametrize("native, saved", [(True, "bfloat16"), (False, "float32")])
def test_a_run_with_precision_auto_saves_and_trains_what_it_resolved_to(tiny_data, tmp_path,
                                                                        monkeypatch, native,
                                                                        saved):
    monkeypatch.setattr(train_module, "native_bf16", lambda device: native)
    seen = []
    real = train_module.autocast_for
    monkeypatch.setattr(train_module, "autocast_for",
                        lambda cfg, device: seen.append(cfg.precision) or real(cfg, device))
    cfg = tiny_config(precision="auto", epochs=1)
    run = fit(cfg, tmp_path, data=tiny_data, report=QUIET)
    assert run.cfg.precision == saved and set(seen) == {saved}
    assert json.loads((tmp_path / "config.json").read_text())["precision"] == saved
    assert epochs_done(tmp_path / CHECKPOINT, cfg) == 1        # the same run, reused as such
    monkeypatch.setattr(train_module, "native_bf16", lambda device: not native)
    assert epochs_done(tmp_path / CHECKPOINT, cfg) == 0        # on another machine it is not


def test_native_bf16_is_what_the_cpu_says(monkeypatch):
    for avx512_bf16, amx, expected in [(False, False, False), (True, False, True),
                                       (False, True, True)]:
        monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda v=avx512_bf16: v)
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda v=amx: v)
        assert native_bf16("cpu") is expected
