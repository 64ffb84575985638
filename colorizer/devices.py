"""Where a run computes: the device picked once, its backends set up once, data moved onto it."""

import ctypes
import ctypes.util
import os
import platform
import time
from functools import cache

import torch

from .config import ColorizerError

# TF32 (a 10-bit mantissa inside CUDA's float32 convolutions and products) only when asked:
# `--tf32`, or use_tf32(True) before the first device is chosen. One policy for the process.
_POLICY = {"tf32": False, "configured": None}


def get_device(device="auto"):
    """CUDA when present, else CPU; an explicit name ("cpu", "cuda:1") is taken as given. A CUDA
    device gets the process's backend policy (configure_backends) before it is handed out."""
    if device == "auto":
        device = "cuda" if cuda_present() else "cpu"
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError):
        raise ColorizerError(f"--device takes auto, cpu, cuda or cuda:N; got {device!r}") from None
    configure_backends(device)
    return device


def cuda_present():
    """Whether a CUDA device is there for "auto" to take. This module is the one place in the
    package that asks torch about CUDA (tests/test_package.py holds every other module to it)."""
    return torch.cuda.is_available()


def cuda_count():
    """How many CUDA devices this process sees."""
    return torch.cuda.device_count() if cuda_present() else 0


def use_tf32(on=True):
    """Let CUDA compute float32 convolutions and products in TF32 (faster on Ampere and later,
    ~1e-3 relative error), or not (the default); applied at once where CUDA is configured."""
    _POLICY["tf32"] = bool(on)
    if _POLICY["configured"] is not None:
        _apply(_POLICY["configured"])


def configure_backends(device):
    """Set up the backends for work on `device`, once per process, for results that repeat:
    every entry point (train, evaluate, colorize, load_model, pretrained, the demo) comes here
    through get_device or load_model.

    On the CPU there is nothing to choose: a run repeats bit for bit on one machine. On CUDA:
    cuDNN's deterministic algorithms without autotuning; TF32 off for convolutions and matrix
    products alike unless use_tf32 (so that the bottleneck's products, models.Down / Up, and the
    convolutions around them compute in one precision, the CPU's); deterministic algorithms
    where PyTorch has them, with a warning where it has none (warn_only), and the cuBLAS
    workspace that they need. These are process-wide settings of PyTorch: one policy a process.
    """
    if torch.device(device).type != "cuda":
        return
    _POLICY["configured"] = torch.device(device)
    _apply(torch.device(device))


def _apply(device):
    # read by cuBLAS when it first starts: before any product on the device
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.allow_tf32 = _POLICY["tf32"]
    torch.backends.cuda.matmul.allow_tf32 = _POLICY["tf32"]
    torch.use_deterministic_algorithms(True, warn_only=True)


def native_bf16(device):
    """Whether `device` computes bfloat16 in hardware: a CUDA GPU of compute capability 8.0 or
    later (Ampere on; torch.cuda.is_bf16_supported also counts emulation on older GPUs), or a
    CPU with AVX512-BF16 or AMX (on an AVX2-only CPU, bfloat16 is converted to float32 and back)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_capability(device) >= (8, 0)
    return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()


def to_device(tensor, device):
    """A CPU tensor on `device`; to CUDA from pinned memory, without making the host wait."""
    device = torch.device(device)
    if device.type == "cuda" and tensor.device.type == "cpu":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)


def synchronize(device):
    """Wait for the work queued on `device` (CUDA runs asynchronously): before reading a clock."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def cpu_name():
    """Which CPU a figure comes from: its model name and, on x86, family and model numbers
    (Linux: /proc/cpuinfo, else the machine type), then the widest vector instructions torch
    uses on it, + BF16 where it computes bfloat16 natively (CPUs of one name differ in both)."""
    fields = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if not key.strip():
                    break                                   # the first processor's block only
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    name = fields.get("model name") or platform.processor() or platform.machine()
    if "cpu family" in fields and "model" in fields:
        name += f" (family {fields['cpu family']}, model {fields['model']})"
    bf16 = " + BF16" if native_bf16("cpu") else ""
    return f"{name}, {torch.backends.cpu.get_cpu_capability()}{bf16}"


def process_age():
    """Seconds since this process started (Linux: /proc; elsewhere since this module was
    imported): what a run planned by the clock counts from."""
    try:
        with open("/proc/self/stat") as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])    # field 22, starttime
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return max(0.0, uptime - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError, AttributeError):
        return time.monotonic() - _IMPORTED


_IMPORTED = time.monotonic()


@cache
def _malloc_trim():
    """glibc's malloc_trim, or None off glibc."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c")).malloc_trim
    except (OSError, AttributeError, TypeError):
        return None


def release_free_memory():
    """Return the free pages of the C heap to the system (glibc's malloc_trim; elsewhere a no-op).

    A training step allocates and frees batch-sized tensors; glibc keeps the freed blocks in its
    heaps, so without this a run stays well above what it holds (docs/design.md). Called once
    per epoch: it leaves the peak at that of a training step.
    """
    trim = _malloc_trim()
    return bool(trim(0)) if trim is not None else False
