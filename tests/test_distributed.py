"""Several processes on the CPU: torchrun + DistributedDataParallel over gloo."""

import copy
import gc
import json
import subprocess
import sys

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from colorizer import ColorizerError, Config, build_model, evaluate, load_model
from colorizer.data import open_images
from colorizer.models import loss_fn
from colorizer.scale import distributed
from colorizer.scale.distributed import ProcessContext

from .conftest import child_env

# --device cpu: gloo on the CPU, so that the suite means the same on a machine with GPUs
TINY = ["--widths", "4,8,8", "--epochs", "1", "--augment-factor", "2", "--batch-size", "8",
        "--no-progress", "--device", "cpu"]


def torchrun(n, *args):
    env = child_env(OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           "--nproc_per_node", str(n), "-m", "colorizer", *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.parametrize("cache", ["off", "on"])
def test_two_processes_train_a_checkpoint_one_process_can_use(tiny_folder, tmp_path, cache):
    out = tmp_path / "run"
    r = torchrun(2, "train", *TINY, "--data", tiny_folder, "--out", out, "--cache", cache)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.count("epoch   1/1") == 1            # rank 0 alone logs and reports
    assert r.stdout.count("run folder") == 1
    assert r.stdout.count("decoding 12 files") == (cache == "on")   # rank 0 alone decodes
    model, ckpt = load_model(out / "checkpoint.pt", torch.device("cpu"))
    test = open_images(Config.from_dict(ckpt["config"]), names=ckpt["split"]["test"])
    saved = json.loads((out / "metrics.json").read_text())
    assert evaluate(model, test.lab, tta="none")["ab_mse"] == pytest.approx(saved["ab_mse"],
                                                          rel=1e-5)


def test_more_processes_than_images_is_one_line(tiny_folder, tmp_path):
    r = torchrun(2, "train", *TINY, "--data", tiny_folder, "--out", tmp_path / "o", "--limit",
                 "3")
    assert r.returncode != 0
    assert "2 processes need batches and a training split of at least 4 images" in r.stderr


def _first_step_gradients(rank, world, init, batch, out):
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    torch.manual_seed(0)
    model = build_model(Config(widths=(4, 8, 8)))
    net = ProcessContext(rank, world).wrap(model, torch.device("cpu"))
    x = ProcessContext(rank, world).share(batch)
    loss_fn(model, net(x[:, :1]), x[:, 1:]).backward()
    if rank == 0:
        torch.save({n: p.grad for n, p in model.named_parameters() if p.requires_grad}, out)
    # Tear down in order: both processes done with the group, then DDP's reducer gone (it holds
    # the group, and the model's gradient hooks hold it), then the group. A reducer outliving the
    # group into the interpreter's exit aborted one run in twenty ("terminate called without an
    # active exception": gloo's threads torn down after Python).
    dist.barrier()
    del net, model, x
    gc.collect()
    dist.destroy_process_group()


def test_averaged_gradients_equal_one_process_on_the_same_global_batch(tmp_path):
    g = torch.Generator().manual_seed(0)
    batch = torch.cat([torch.rand(8, 1, 16, 16, generator=g) * 100,
                       torch.randn(8, 2, 16, 16, generator=g) * 20], dim=1)
    out = tmp_path / "grads.pt"
    mp.spawn(_first_step_gradients, args=(2, f"file://{tmp_path / 'init'}", batch, out),
             nprocs=2)
    ddp = torch.load(out)
    # One process, the same global batch, each process's share normalised by its own BatchNorm
    # statistics (as DDP on the CPU does: SyncBatchNorm is GPU-only), the losses averaged.
    torch.manual_seed(0)
    model = build_model(Config(widths=(4, 8, 8)))
    losses = [loss_fn(model, model(s[:, :1]), s[:, 1:])
              for s in (ProcessContext(r, 2).share(batch) for r in range(2))]
    (sum(losses) / 2).backward()
    trained = [(n, p) for n, p in model.named_parameters() if p.requires_grad]   # (not spread)
    assert len(ddp) == len(trained)
    for name, p in trained:
        assert torch.allclose(ddp[name], p.grad, rtol=1e-4, atol=1e-6), name


class _Reduced(Exception):
    """Raised by the fake all-reduce: the test has seen the tensor it got."""


def test_the_sums_are_reduced_on_the_process_device(monkeypatch):
    seen = []

    def fake_all_reduce(t, *a, **k):
        seen.append(t.device)
        raise _Reduced

    monkeypatch.setattr(dist, "all_reduce", fake_all_reduce)
    procs = ProcessContext(0, 2, torch.device("meta"))    # a GPU: nccl has no CPU side
    with pytest.raises(_Reduced):
        procs.total(torch.tensor(3.0), 4)
    assert seen == [torch.device("meta")]


def test_one_process_sums_tensors_and_numbers():
    assert ProcessContext().total(torch.tensor(1.5, dtype=torch.float64), 3) == (1.5, 3.0)


def test_more_processes_than_gpus_is_one_line(monkeypatch):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "set_device", lambda d: pytest.fail("set_device reached"))
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    with pytest.raises(ColorizerError, match=r"2 processes on this machine but 1 GPU\(s\)"):
        distributed.setup("auto")


@pytest.mark.parametrize("head", ["sigmoid", "classify"])
def test_sync_batchnorm_gives_the_same_eval_output(head):
    """torchrun on CUDA converts BatchNorm2d to SyncBatchNorm: the model must not change."""
    torch.manual_seed(0)
    model = build_model(Config(widths=(4, 8, 8), head=head)).eval()
    synced = copy.deepcopy(model)
    synced = torch.nn.SyncBatchNorm.convert_sync_batchnorm(synced).eval()
    assert any(isinstance(m, torch.nn.SyncBatchNorm) for m in synced.modules())
    L = torch.rand(3, 1, 16, 16) * 100
    with torch.no_grad():
        assert torch.equal(synced(L), model(L))


def test_one_process_under_torchrun_still_trains_under_ddp(tiny_folder, tmp_path):
    """torchrun with one process (one GPU) joins a real process group of world size 1, so DDP
    (and, on CUDA, SyncBatchNorm) run: what gpu_check's torchrun step checks on one GPU."""
    r = torchrun(1, "train", *TINY, "--data", tiny_folder, "--out", tmp_path / "run")
    assert r.returncode == 0, r.stderr[-3000:]
    processes = json.loads((tmp_path / "run" / "metrics.json").read_text())["processes"]
    assert processes == {"world": 1, "backend": "gloo", "ddp": True, "sync_batchnorm": False}
