"""Where a run computes: the device picked once, its backends set up once, data moved onto it."""

import os
import platform

import torch


def get_device(device="auto"):
    """CUDA when present, else CPU; an explicit name ("cpu", "cuda:1") is taken as given."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def configure_backends(device):
    """Set up the backends for a run on `device`, once per run, for results that repeat.

    On the CPU there is nothing to choose: a run repeats bit for bit on one machine. On CUDA:
    cuDNN's deterministic algorithms without autotuning; TF32 off for convolutions and matrix
    products alike, so that the bottleneck's products (models.Down / Up) and the convolutions
    around them compute in one precision; deterministic algorithms where PyTorch has them, with a
    warning where it has none (warn_only), and the cuBLAS workspace that they need.
    """
    if torch.device(device).type != "cuda":
        return
    # read by cuBLAS when it first starts: before any product on the device
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.use_deterministic_algorithms(True, warn_only=True)


def native_bf16(device):
    """Whether `device` computes bfloat16 in hardware: a CUDA GPU that supports it, or a CPU with
    AVX512-BF16 or AMX (on an AVX2-only CPU, bfloat16 is converted to float32 and back)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
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
    """The CPU's model name (Linux: /proc/cpuinfo), else the machine type: which CPU a figure
    comes from."""
    try:
        with open("/proc/cpuinfo") as f:
            name = next((line.split(":", 1)[1].strip() for line in f
                         if line.startswith("model name")), None)
    except OSError:
        name = None
    return name or platform.processor() or platform.machine()
