import json

import pytest
import torch

from colorizer import ColorizerError, Config, fit, load_checkpoint
from colorizer.checkpoint import CHECKPOINT
from colorizer.console import QUIET, Reporter
from colorizer.train import batch_indices, build_optimizer, build_schedule, steps_per_epoch

from .conftest import tiny_config


@pytest.mark.parametrize("n,bs,repeats", [(9, 4, 3), (10, 3, 1), (12, 8, 2), (675, 64, 10),
                                          (5, 2, 1), (11, 8, 2), (13, 8, 1)])
@pytest.mark.parametrize("smallest", [2, 4])
def test_steps_per_epoch_counts_the_batches(n, bs, repeats, smallest):
    batches = batch_indices(n, bs, repeats, torch.Generator().manual_seed(0), smallest)
    assert steps_per_epoch(n, bs, repeats, smallest) == len(batches)
    if bs >= smallest:                  # as fit requires (ProcessContext.check_enough)
        assert all(len(b) >= smallest for b in batches)


def _lrs(schedule, steps=100, lr=1e-2):
    cfg = tiny_config(schedule=schedule, lr=lr, optimizer="adamw")
    opt = build_optimizer(cfg, torch.nn.Linear(2, 2))
    sched = build_schedule(cfg, opt, steps)
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def test_the_constant_schedule_is_constant():
    assert _lrs("constant") == [1e-2] * 100


def test_wsd_holds_the_rate_then_decays_linearly_to_zero():
    lrs = _lrs("wsd")                       # config.WARMUP 0.1, config.COOLDOWN 0.3
    assert lrs[0] == pytest.approx(1e-3) and lrs[9] == pytest.approx(1e-2)   # 10 warm-up steps
    assert lrs[10:71] == pytest.approx([1e-2] * 61)                          # stable up to 70
    tail = lrs[70:]                                                          # 30 steps to zero
    assert tail == pytest.approx([1e-2 * (30 - i) / 30 for i in range(30)])


def test_training_seed_leaves_the_split_alone(tiny_data, tmp_path):
    a = fit(tiny_config(epochs=1, seed=0), tmp_path / "a", data=tiny_data, report=QUIET)
    b = fit(tiny_config(epochs=1, seed=1), tmp_path / "b", data=tiny_data, report=QUIET)
    split = [(tmp_path / r / "split.json").read_text() for r in "ab"]
    assert split[0] == split[1]
    assert a.test.names == b.test.names
    assert not torch.equal(a.model.encoder[0].weight, b.model.encoder[0].weight)
    assert json.loads((tmp_path / "a" / "split.json").read_text())["seed"] == 0


class Interrupt(Exception):
    pass


def _stop_after(epochs):
    """A log function that interrupts a run once `epochs` epochs are logged (and saved)."""
    def log(line):
        if line.startswith(f"epoch {epochs + 1:3d}/"):
            raise Interrupt
    return log


@pytest.mark.parametrize("levers", [dict(schedule="wsd", optimizer="adamw"),
                                    dict(schedule="wsd", optimizer="adam")])
def test_resume_continues_a_scheduled_run_exactly(tiny_data, tmp_path, levers):
    cfg = tiny_config(epochs=3, **levers)
    straight = fit(cfg, tmp_path / "a", data=tiny_data, report=QUIET)
    with pytest.raises(Interrupt):         # killed during epoch 2: the checkpoint holds epoch 1
        fit(cfg, tmp_path / "b", data=tiny_data, report=Reporter(_stop_after(1), progress=False))
    assert load_checkpoint(tmp_path / "b" / CHECKPOINT)["epoch"] == 1
    resumed = fit(cfg, tmp_path / "b", resume=True, data=tiny_data, report=QUIET)
    assert resumed.history["train_loss"] == pytest.approx(straight.history["train_loss"], rel=1e-5)
    for (k, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.allclose(a.float(), b.float(), atol=1e-5), k
    with pytest.raises(ColorizerError, match="planned for 3 epochs: resume it with --epochs 3"):
        fit(tiny_config(epochs=5, **levers), tmp_path / "b", resume=True,
            data=tiny_data, report=QUIET)


@pytest.mark.parametrize("optimizer", ["adam", "adamw"])
def test_the_fused_update_is_the_plain_one_up_to_rounding(optimizer):
    results = []
    plain = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[optimizer]
    for fused in (False, True):
        torch.manual_seed(0)
        model = torch.nn.Linear(5, 3)
        cfg = Config(optimizer=optimizer, weight_decay=0.1)
        opt = build_optimizer(cfg, model) if fused else plain(
            model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        assert bool(opt.defaults["fused"]) is fused         # on the CPU: fused, as on CUDA
        for _ in range(3):
            model(torch.randn(4, 5)).square().sum().backward()
            opt.step()
            opt.zero_grad()
        results.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    torch.testing.assert_close(results[0], results[1], rtol=1e-5, atol=1e-6)
    assert not torch.equal(results[0], torch.zeros_like(results[0]))
