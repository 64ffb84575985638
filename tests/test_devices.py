"""The device policy: the suite's own guard against tests that pick CUDA by themselves, one
backend policy for every entry point, bfloat16 from the GPU's generation, and the pieces of the
CUDA path that the CPU can check (torchrun alone, an export that leaves the model alone)."""

import io
from dataclasses import replace

import pytest
import torch

from colorizer import devices, load_model
from colorizer.checkpoint import CHECKPOINT, load_checkpoint
from colorizer.serving.pretrained import shipped_weights
from research import runs as study

from .conftest import REAL_CUDA, tiny_config
from .test_optim import Interrupt, _stop_after


@pytest.fixture
def backends():
    """The backend flags as they were, put back after the test."""
    b = torch.backends
    keep = (b.cudnn.benchmark, b.cudnn.deterministic, b.cudnn.allow_tf32,
            b.cuda.matmul.allow_tf32, torch.are_deterministic_algorithms_enabled(),
            torch.is_deterministic_algorithms_warn_only_enabled(), dict(devices._POLICY))
    yield b
    (b.cudnn.benchmark, b.cudnn.deterministic, b.cudnn.allow_tf32,
     b.cuda.matmul.allow_tf32) = keep[:4]
    torch.use_deterministic_algorithms(keep[4], warn_only=keep[5])
    devices._POLICY.update(keep[6])


@pytest.mark.skipif(REAL_CUDA, reason="the guard stands in for a GPU where there is none")
def test_the_guard_fails_a_test_that_would_pick_cuda_by_itself():
    device = devices.get_device()                       # "auto" sees the guard's GPU
    assert device.type == "cuda"
    with pytest.raises(RuntimeError, match="picked CUDA without asking"):
        torch.zeros(1).to(device)
    assert devices.get_device("cpu").type == "cpu"


def test_every_entry_point_gets_the_backend_policy_tf32_off_unless_asked(backends):
    backends.cudnn.allow_tf32 = backends.cuda.matmul.allow_tf32 = True     # torch's defaults
    with pytest.raises(RuntimeError):                   # (no GPU to move the model to)
        load_model(shipped_weights(), torch.device("cuda"))
    assert not backends.cudnn.allow_tf32 and not backends.cuda.matmul.allow_tf32
    assert backends.cudnn.deterministic and not backends.cudnn.benchmark
    devices.use_tf32(True)                              # `--tf32`
    assert backends.cudnn.allow_tf32 and backends.cuda.matmul.allow_tf32
    devices.use_tf32(False)
    assert not backends.cudnn.allow_tf32


def test_the_cli_sets_the_policy_before_any_device(backends, capsys):
    from colorizer.cli import main

    main(["evaluate", "--tf32", "--checkpoint", "nowhere.pt"])
    assert devices._POLICY["tf32"] is True
    main(["evaluate", "--checkpoint", "nowhere.pt"])
    assert devices._POLICY["tf32"] is False


@pytest.mark.parametrize("capability, native", [((7, 5), False), ((8, 0), True), ((9, 0), True)])
def test_native_bf16_on_a_gpu_is_its_generation_not_emulation(monkeypatch, capability, native):
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda d=None: capability)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)   # (emulated)
    assert devices.native_bf16("cuda") is native


def test_the_cpu_is_named_by_family_model_and_vector_instructions(monkeypatch):
    cpuinfo = ("processor\t: 0\ncpu family\t: 26\nmodel\t\t: 2\nmodel name\t: AMD EPYC\n\n"
               "processor\t: 1\ncpu family\t: 99\nmodel\t\t: 9\nmodel name\t: Other\n")
    monkeypatch.setattr("builtins.open", lambda *a, **k: io.StringIO(cpuinfo))
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX2")
    monkeypatch.setattr(devices, "native_bf16", lambda d: False)
    assert devices.cpu_name() == "AMD EPYC (family 26, model 2), AVX2"
    monkeypatch.setattr(devices, "native_bf16", lambda d: True)
    assert devices.cpu_name().endswith("AVX2 + BF16")


def test_an_unfinished_study_run_is_resumed_a_finished_one_reused(tiny_data, tmp_path, capsys):
    cfg = tiny_config(epochs=2, schedule="constant")
    with pytest.raises(Interrupt):                       # a call stopped at its time limit
        study.fit_or_reuse(cfg, tmp_path / "run", tiny_data, log=_stop_after(1))
    assert load_checkpoint(tmp_path / "run" / CHECKPOINT)["epoch"] == 1
    capsys.readouterr()
    resumed = study.fit_or_reuse(cfg, tmp_path / "run", tiny_data, log=None)
    assert "resuming the run" in capsys.readouterr().out
    straight = study.fit_or_reuse(cfg, tmp_path / "straight", tiny_data, log=None)
    assert resumed.history["train_loss"] == pytest.approx(straight.history["train_loss"],
                                                          rel=1e-5)
    study.fit_or_reuse(cfg, tmp_path / "run", tiny_data, log=None)
    assert "reused the finished run" in capsys.readouterr().out
    other = study.fit_or_reuse(replace(cfg, epochs=3), tmp_path / "run", tiny_data, log=None)
    assert len(other.history["train_loss"]) == 3        # another plan: trained afresh


@pytest.fixture
def tiny_data(tiny_folder):
    from colorizer import load_images

    return load_images(tiny_folder, size=16)
