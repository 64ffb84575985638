"""Speed levers of the training step, measured side by side in one run on one machine: the
bare step (forward + backward + optimizer on augmented batches made beforehand) of `--preset
quarter-side`, the default when issue 29 was filed and the reference of its 1.7x, and the same
step with a lever applied, each as images/s, GFLOP/s and its share of
the float32 matrix-product peak measured in the same run (benchmarks.throughput's).

Levers (an arm is the default with some settings changed, and whether it is compiled):
eager           today: channels-last weights and inputs, fused AdamW
compile         torch.compile of the model (inductor, default mode), compiled before the clock
contiguous      the model and inputs in the default (channels-first) memory format
space_to_depth  the space-to-depth stem (`--stem space_to_depth`): the first two halvings as
                one dense 3x3 convolution on L* folded into 16 channels at 32 px (with it, the
                default since 2026-12-02: `--preset space-to-depth`)
batch_128       batches of 128 (the same images a round, half as many steps)
bfloat16        bfloat16 autocast (`--precision bfloat16`; emulated on a CPU without
                AVX512-BF16 / AMX, which the table says)
study           the study's own settings (`--preset study`: tanh, a*b* at the full side,
                plain Adam), for its share of the peak beside the default's
and their sums, e.g. space_to_depth+compile.

Each arm's GFLOP/s is its own model's FLOPs an image times its images/s. The arms are
interleaved `--rounds` times and the median kept, so a neighbour's load hits all. `--pipeline`
times the whole training step instead (colorizer.train_one_epoch over the round's images:
shuffled indices, gather, the batched crop and flip, then the step), what an epoch costs. A lever
becomes the default only if it also trains to the same error (issue 29): this measures speed.

    python -m benchmarks.levers [--levers eager compile space_to_depth+compile ...]
        [--rounds 5] [--batches 8] [--pipeline]
"""

import argparse
import statistics
import time
from dataclasses import replace

import torch

from colorizer import build_model, random_resized_crop, train_one_epoch
from colorizer.config import PRESETS, preset
from colorizer.devices import get_device, native_bf16
from colorizer.models import loss_fn
from colorizer.train import Training, autocast_for, build_optimizer
from research.report import markdown_table

from .common import command, machine, train_split, write_result
from .throughput import flops_per_image, matmul_gflops

# Each lever: the settings it changes; "compile" and "contiguous" change how the step runs
LEVERS = {"eager": {}, "compile": {}, "contiguous": {},
          "space_to_depth": {"stem": "space_to_depth"}, "batch_128": {"batch_size": 128},
          "bfloat16": {"precision": "bfloat16"},
          "study": PRESETS["study-short"]}
DEFAULT_ARMS = ("eager", "compile", "contiguous", "space_to_depth", "space_to_depth+compile",
                "batch_128", "space_to_depth+batch_128", "space_to_depth+batch_128+compile",
                "study")


def arm_name(text):
    """An argparse type: levers joined by '+', each one of LEVERS."""
    unknown = [lv for lv in text.split("+") if lv not in LEVERS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown lever {unknown[0]!r}; choose from "
                                         f"{', '.join(LEVERS)}")
    return text


def arm_config(name, base):
    """The Config an arm name stands for: `base` with each of its levers' settings."""
    return replace(base, **{k: v for lv in arm_name(name).split("+")
                            for k, v in LEVERS[lv].items()})


def arm(name, cfg, images, lab=None):
    """(step function, compile seconds) for one arm: a fresh seeded model and optimizer, the
    round's augmented images cut into the arm's batches; with `lab` (the round's images before
    augmentation), the whole training step: one train_one_epoch pass over them."""
    levers = name.split("+")
    torch.manual_seed(0)
    model = build_model(cfg)
    L, ab = images
    batches = list(zip(L.split(cfg.batch_size), ab.split(cfg.batch_size)))
    if "contiguous" in levers:
        model = model.to(memory_format=torch.contiguous_format)
        batches = [(x.contiguous(), y) for x, y in batches]
    optimizer = build_optimizer(cfg, model)
    net = torch.compile(model) if "compile" in levers else model
    model.train()
    device = torch.device("cpu")

    def pipeline():
        train_one_epoch(Training(model, optimizer, generator, net=net), lab,
                        replace(cfg, augment_factor=1))

    def step_all():
        for x, y in batches:
            with autocast_for(cfg, device):
                loss = loss_fn(model, net(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

    generator = torch.Generator().manual_seed(0)
    step = step_all if lab is None else pipeline
    t0 = time.perf_counter()
    step()                                              # warm-up (and, compiled, the compile)
    return step, time.perf_counter() - t0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--levers", nargs="+", default=list(DEFAULT_ARMS), type=arm_name,
                   help="arms, each a lever or levers joined by + (the first is the reference)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--batches", type=int, default=8, help="batches of 64 per timed round")
    p.add_argument("--pipeline", action="store_true",
                   help="time the whole training step (train_one_epoch), not the bare one")
    p.add_argument("--name", default="levers")
    args = p.parse_args(argv)

    device = get_device("cpu")
    base = preset("quarter-side", device="cpu")
    configs = {name: arm_config(name, base) for name in args.levers}
    train, _ = train_split()
    x = random_resized_crop(train.lab[:base.batch_size * args.batches],
                            torch.Generator().manual_seed(0))
    images = (x[:, :1].contiguous(memory_format=torch.channels_last), x[:, 1:].contiguous())
    n_images = len(x)
    peak = matmul_gflops(device)
    bf16 = native_bf16(device)
    peak_bf16 = matmul_gflops(device, dtype=torch.bfloat16) if bf16 else None
    gflop = {name: flops_per_image(build_model(c)) / 1e9 for name, c in configs.items()}
    lab = train.lab[:n_images] if args.pipeline else None
    arms = {name: arm(name, c, images, lab) for name, c in configs.items()}
    speeds = {name: [] for name in arms}
    for r in range(args.rounds):
        for name in (list(arms) if r % 2 == 0 else list(arms)[::-1]):
            t0 = time.perf_counter()
            arms[name][0]()
            speeds[name].append(n_images / (time.perf_counter() - t0))
    reference = statistics.median(speeds[args.levers[0]])
    rows = []
    for name, (_, warm_s) in arms.items():
        ips = statistics.median(speeds[name])
        own_peak = peak_bf16 if configs[name].precision == "bfloat16" and bf16 else peak
        rows.append({"lever": name, "images/s": ips, "x reference": ips / reference,
                     "GFLOP/image": gflop[name], "GFLOP/s": gflop[name] * ips,
                     "of peak": f"{gflop[name] * ips / own_peak:.1%}", "first pass s": warm_s})
        print(rows[-1], flush=True)
    m = machine()
    peaks = (f"float32 matmul peak measured in this run {peak:.1f} GFLOP/s"
             + (f", bfloat16 {peak_bf16:.1f} (bfloat16 arms are shares of it)" if bf16 else
                "; this CPU has no AVX512-BF16 / AMX (bfloat16 is emulated: no bfloat16 peak)"))
    what = ("images through the whole training step (train_one_epoch: gather, crop and flip, "
            "step)" if args.pipeline else "augmented images through the bare step")
    text = "\n".join([
        "# Training-step levers, side by side",
        "",
        f"`{command('benchmarks.levers', argv)}`, {m['date']}, {m['cpu']}, {m['cores']} cores, "
        f"torch {m['torch']}; the default configuration (`--preset quarter-side`) with each "
        f"arm's levers; {n_images} {what} a round in the arm's batches (64 unless "
        f"it says), median of {args.rounds} interleaved rounds; FLOPs forward + backward "
        f"(flop_counter); {peaks}. Reference: {args.levers[0]}. Speed only: the error each "
        "arm trains to is in the equal-time tables.",
        "",
        markdown_table(rows, ["lever", "images/s", "x reference", "GFLOP/image", "GFLOP/s",
                              "of peak", "first pass s"]),
    ])
    print(text)
    write_result(args.name, {"machine": m, "peak_gflop_per_s": peak,
                             "peak_bf16_gflop_per_s": peak_bf16, "rows": rows}, text)


if __name__ == "__main__":
    main()
