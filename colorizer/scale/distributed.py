"""Several processes, one or several machines, through PyTorch's own engine: torchrun starts them,
DistributedDataParallel averages their gradients (gloo on the CPU, nccl on CUDA).

Under `torchrun --nproc_per_node N -m colorizer train ...` every process draws the same shuffled,
augmented global batches (same seed), trains on its own share of each, and DDP averages the
gradients, so together they see what one process would. Rank 0 alone logs, evaluates and writes.
"""

import gc
import os
from dataclasses import dataclass, field
from datetime import timedelta

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from ..config import ColorizerError
from ..devices import cuda_count, get_device

# How long the other processes wait for rank 0's own work (building the image cache of a large
# folder) before giving up; nccl's own timeout (10 minutes) stays on the training's collectives.
WAIT_FOR_MAIN = timedelta(hours=6)


@dataclass(frozen=True)
class ProcessContext:
    """This process's place among those torchrun started (one process: rank 0 of 1), the device
    its collectives run on, and a CPU (gloo) group for waiting on rank 0."""
    rank: int = 0
    world: int = 1
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    waiting: object = None

    @property
    def joined(self):
        """Whether this process is in torchrun's process group (even alone: world size 1)."""
        return self.world > 1 or self.waiting is not None

    @property
    def main(self):
        return self.rank == 0

    def share(self, batch):
        """This process's part of a global batch: every world-th item from its rank on."""
        return batch[self.rank::self.world] if self.world > 1 else batch

    def main_first(self, make):
        """make() in the main process, then in the others (which then find, say, the image
        cache that the main process built)."""
        if self.world == 1:
            return make()
        if self.main:
            result = make()
        dist.barrier(group=self.waiting)
        if not self.main:
            result = make()
        return result

    def total(self, *values):
        """Sums of `values` (numbers, or one-number tensors) over all processes, as floats, read
        from the device once; with nccl the sum must run on this process's GPU."""
        t = torch.stack([torch.as_tensor(v, dtype=torch.float64).to(self.device)
                         for v in values])
        if self.world > 1:
            dist.all_reduce(t)
        return tuple(t.tolist())

    def check_enough(self, n_train, batch_size):
        """One clear line when the processes cannot each get two images of a batch."""
        if self.world > 1 and min(n_train, batch_size) < 2 * self.world:
            raise ColorizerError(
                f"{self.world} processes need batches and a training split of at least "
                f"{2 * self.world} images (BatchNorm needs two per process); got {n_train} "
                f"training images, batch size {batch_size}")

    def wrap(self, model, device):
        """The module to train: the model itself, or DDP around it in a launch.

        BatchNorm keeps per-process batch statistics on the CPU (torch's SyncBatchNorm is
        GPU-only); on CUDA it is synchronised across processes, as one process would compute it:
        an all-reduce per BatchNorm layer per step, each a wait of the host for the GPUs (the
        price of batch statistics that do not depend on the number of processes).
        """
        if not self.joined:
            return model
        if device.type == "cuda":
            model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
            return DistributedDataParallel(model, device_ids=[device.index])
        return DistributedDataParallel(model)

    def describe(self, net):
        """How a run was trained, for its metrics: processes, backend, DDP, SyncBatchNorm."""
        return {"world": self.world, "backend": dist.get_backend() if self.joined else None,
                "ddp": isinstance(net, DistributedDataParallel),
                "sync_batchnorm": any(isinstance(m, torch.nn.SyncBatchNorm)
                                      for m in net.modules())}


def setup(device="auto"):
    """(ProcessContext, device) of a process torchrun started (train.processes asks), joining its
    process group once, even as its only process (world size 1: DDP and, on CUDA, SyncBatchNorm
    really run). CUDA: one device per process (LOCAL_RANK)."""
    device = get_device(device)
    if device.type == "cuda":
        device = torch.device("cuda", _local_gpu())
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    waiting = dist.new_group(backend="gloo", timeout=WAIT_FOR_MAIN)
    return ProcessContext(dist.get_rank(), dist.get_world_size(), device, waiting), device


def _local_gpu():
    """This process's GPU on its machine (LOCAL_RANK), or one line when there are fewer GPUs
    than processes."""
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    procs = int(os.environ.get("LOCAL_WORLD_SIZE", local_rank + 1))
    gpus = cuda_count()
    if procs > gpus or local_rank >= gpus:
        raise ColorizerError(f"{procs} processes on this machine but {gpus} GPU(s): start at "
                             f"most {gpus} (torchrun --nproc_per_node {gpus}), or pass "
                             "--device cpu")
    return local_rank


def finish():
    """Leave torchrun's process group, once every process is done with it and DDP is gone (its
    hooks on a model hold the group): gloo's threads then stop while Python still runs (a group
    torn down at the interpreter's exit can abort a process)."""
    if dist.is_available() and dist.is_initialized():
        gc.collect()
        dist.barrier()
        dist.destroy_process_group()
