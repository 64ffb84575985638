import copy
import json

import pytest
import torch

from colorizer import ColorizerError, Config, fit, load_checkpoint, load_model
from colorizer.checkpoint import CHECKPOINT
from colorizer.evaluation import evaluate
from colorizer.optim import build_optimizer, build_schedule, steps_per_epoch
from colorizer.train import batch_indices, remeasure_batchnorm

from .conftest import tiny_config


@pytest.mark.parametrize("n,bs,repeats", [(9, 4, 3), (10, 3, 1), (12, 8, 2), (675, 64, 10),
                                          (5, 2, 1), (11, 8, 2), (13, 8, 1)])
@pytest.mark.parametrize("smallest", [2, 4])
def test_steps_per_epoch_counts_the_batches(n, bs, repeats, smallest):
    batches = batch_indices(n, bs, repeats, torch.Generator().manual_seed(0), smallest)
    assert steps_per_epoch(n, bs, repeats, smallest) == len(batches)
    if bs >= smallest:                  # as fit requires (distributed.check_enough)
        assert all(len(b) >= smallest for b in batches)


def _lrs(schedule, steps=100, lr=1e-2, warmup=0.2, cooldown=0.3):
    cfg = tiny_config(schedule=schedule, lr=lr, warmup=warmup, cooldown=cooldown,
                      optimizer="adamw")
    opt = build_optimizer(cfg, torch.nn.Linear(2, 2))
    sched = build_schedule(cfg, opt, steps)
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def test_schedules_warm_up_peak_at_lr_and_decay():
    assert _lrs("constant") == [1e-2] * 100
    for kind in ("onecycle", "cosine"):
        lrs = _lrs(kind)
        peak = max(range(100), key=lrs.__getitem__)
        assert lrs[peak] == pytest.approx(1e-2, rel=1e-3), kind
        assert 15 <= peak <= 21, kind                         # at the end of the 20 % warm-up
        assert lrs[0] < 0.1 * lrs[peak] and lrs[-1] < 0.01 * lrs[peak], kind
        assert all(a >= b for a, b in zip(lrs[peak:], lrs[peak + 1:])), kind



def test_wsd_holds_the_rate_then_decays_linearly_to_zero():
    lrs = _lrs("wsd", warmup=0.1, cooldown=0.3)
    assert lrs[0] == pytest.approx(1e-3) and lrs[9] == pytest.approx(1e-2)   # 10 warm-up steps
    assert lrs[10:71] == pytest.approx([1e-2] * 61)                          # stable up to 70
    tail = lrs[70:]                                                          # 30 steps to zero
    assert tail == pytest.approx([1e-2 * (30 - i) / 30 for i in range(30)])


def test_training_seed_leaves_the_split_alone(tiny_data, tmp_path):
    a = fit(tiny_config(epochs=1, seed=0), tmp_path / "a", progress=False, data=tiny_data,
            log=None)
    b = fit(tiny_config(epochs=1, seed=1), tmp_path / "b", progress=False, data=tiny_data,
            log=None)
    split = [(tmp_path / r / "split.json").read_text() for r in "ab"]
    assert split[0] == split[1]
    assert a.test.names == b.test.names
    assert not torch.equal(a.model.encoder[0].weight, b.model.encoder[0].weight)
    c = fit(tiny_config(epochs=1, split_seed=3), None, progress=False, data=tiny_data, log=None)
    assert c.test.names != a.test.names
    assert json.loads((tmp_path / "a" / "split.json").read_text())["seed"] == 0


def test_ema_weights_are_evaluated_and_saved(tiny_data, tmp_path):
    run = fit(tiny_config(epochs=2, ema=0.9, schedule="onecycle"), tmp_path, progress=False,
              data=tiny_data, log=None)
    ckpt = load_checkpoint(tmp_path / CHECKPOINT)
    assert {"train_model", "ema", "schedule"} <= ckpt.keys()
    w = "encoder.0.weight"
    assert not torch.equal(ckpt["model"][w], ckpt["train_model"][w])
    assert torch.equal(run.model.state_dict()[w], ckpt["model"][w])
    model, _ = load_model(tmp_path / CHECKPOINT, torch.device("cpu"))
    assert torch.equal(model.state_dict()[w], ckpt["model"][w])


def test_an_averages_batchnorm_statistics_are_measured_again_and_saved(tiny_data, tmp_path):
    """The average of the weights gets statistics of its own (an average of the running
    statistics does not fit the averaged weights): those of one seeded augmented pass."""
    cfg = tiny_config(epochs=2, ema=0.9)
    run = fit(cfg, tmp_path, progress=False, data=tiny_data, log=None)
    saved, _ = load_model(tmp_path / CHECKPOINT, torch.device("cpu"))
    again = copy.deepcopy(saved)
    remeasure_batchnorm(again, run.train.lab, cfg, torch.device("cpu"))
    stats = [k for k in saved.state_dict() if k.endswith(("running_mean", "running_var"))]
    assert stats and all(torch.allclose(saved.state_dict()[k], again.state_dict()[k], atol=1e-6)
                         for k in stats)
    assert evaluate(saved, run.test.lab)["ab_mse"] == pytest.approx(run.metrics["ab_mse"])


class Interrupt(Exception):
    pass


def _stop_after(epochs):
    """A log function that interrupts a run once `epochs` epochs are logged (and saved)."""
    def log(line):
        if line.startswith(f"epoch {epochs + 1:3d}/"):
            raise Interrupt
    return log


@pytest.mark.parametrize("levers", [dict(schedule="onecycle", ema=0.9, optimizer="adamw"),
                                    dict(schedule="cosine"), dict(schedule="wsd")])
def test_resume_continues_a_scheduled_run_exactly(tiny_data, tmp_path, levers):
    cfg = tiny_config(epochs=3, **levers)
    straight = fit(cfg, tmp_path / "a", progress=False, data=tiny_data, log=None)
    with pytest.raises(Interrupt):         # killed during epoch 2: the checkpoint holds epoch 1
        fit(cfg, tmp_path / "b", progress=False, data=tiny_data, log=_stop_after(1))
    assert load_checkpoint(tmp_path / "b" / CHECKPOINT)["epoch"] == 1
    resumed = fit(cfg, tmp_path / "b", progress=False, resume=True, data=tiny_data, log=None)
    assert resumed.history["train_loss"] == pytest.approx(straight.history["train_loss"], rel=1e-5)
    for (k, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.allclose(a.float(), b.float(), atol=1e-5), k
    with pytest.raises(ColorizerError, match="planned for 3 epochs: resume it with --epochs 3"):
        fit(tiny_config(epochs=5, **levers), tmp_path / "b", progress=False, resume=True,
            data=tiny_data, log=None)


@pytest.mark.parametrize("optimizer", ["adam", "adamw"])
def test_the_fused_update_is_the_plain_one_up_to_rounding(optimizer):
    results = []
    for fused in (False, True):
        torch.manual_seed(0)
        model = torch.nn.Linear(5, 3)
        opt = build_optimizer(Config(optimizer=optimizer, fused=fused, weight_decay=0.1), model)
        assert bool(opt.defaults["fused"]) is fused
        for _ in range(3):
            model(torch.randn(4, 5)).square().sum().backward()
            opt.step()
            opt.zero_grad()
        results.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    torch.testing.assert_close(results[0], results[1], rtol=1e-5, atol=1e-6)
    assert not torch.equal(results[0], torch.zeros_like(results[0]))
