"""Speed levers of the training step, measured side by side in one run on one machine: the
default's bare step (forward + backward + optimizer on augmented batches made beforehand) as it
runs today, and the same step with a lever applied, each as images/s, GFLOP/s and its share of
the float32 matrix-product peak measured in the same run (benchmarks.throughput's).

Levers (the weights and the update are the same; only how the step is computed changes):
eager       today: channels-last weights and inputs, fused AdamW
compile     torch.compile of the model (inductor, default mode), compiled before the clock
contiguous  the model and inputs in the default (channels-first) memory format

The arms are interleaved `--rounds` times and the median kept, so a neighbour's load hits all.
A lever becomes the default only if it also trains to the same error (issue 29): this measures
speed only.

    python -m benchmarks.levers [--levers eager compile contiguous] [--rounds 5] [--batches 8]
"""

import argparse
import statistics
import time

import torch

from colorizer import Config, build_model, random_resized_crop
from colorizer.devices import get_device
from colorizer.models import loss_fn
from colorizer.optim import build_optimizer
from colorizer.report import markdown_table

from .common import command, machine, train_split, write_result
from .throughput import flops_per_image, matmul_gflops

LEVERS = ("eager", "compile", "contiguous")


def arm(lever, cfg, batches):
    """(step function, compile seconds) for one lever: a fresh seeded model and optimizer."""
    torch.manual_seed(0)
    model = build_model(cfg)
    if lever == "contiguous":
        model = model.to(memory_format=torch.contiguous_format)
        batches = [(L.contiguous(), ab) for L, ab in batches]
    optimizer = build_optimizer(cfg, model)
    net = torch.compile(model) if lever == "compile" else model
    model.train()

    def step_all():
        for L, ab in batches:
            loss_step(net, model, optimizer, L, ab)

    t0 = time.perf_counter()
    step_all()                                          # warm-up (and, compiled, the compile)
    return step_all, time.perf_counter() - t0


def loss_step(net, model, optimizer, L, ab):
    """One training step through `net` (the model, or its compiled form)."""
    loss = loss_fn(model, net(L), ab)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--levers", nargs="+", default=list(LEVERS), choices=LEVERS)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--batches", type=int, default=8, help="batches per timed round")
    p.add_argument("--name", default="levers")
    args = p.parse_args(argv)

    device = get_device("cpu")
    cfg = Config(device="cpu")
    train, _ = train_split()
    gen = torch.Generator().manual_seed(0)
    batches = []
    for i in range(args.batches):
        x = random_resized_crop(train.lab[i * cfg.batch_size:(i + 1) * cfg.batch_size], gen)
        batches.append((x[:, :1].contiguous(memory_format=torch.channels_last),
                        x[:, 1:].contiguous()))
    n_images = sum(len(L) for L, _ in batches)
    peak = matmul_gflops(device)
    gflop = flops_per_image(build_model(cfg)) / 1e9
    arms = {lever: arm(lever, cfg, batches) for lever in args.levers}
    speeds = {lever: [] for lever in arms}
    for r in range(args.rounds):
        for lever in (list(arms) if r % 2 == 0 else list(arms)[::-1]):
            t0 = time.perf_counter()
            arms[lever][0]()
            speeds[lever].append(n_images / (time.perf_counter() - t0))
    base = statistics.median(speeds[args.levers[0]])
    rows = []
    for lever, (_, warm_s) in arms.items():
        ips = statistics.median(speeds[lever])
        rows.append({"lever": lever, "images/s": ips, "x eager": ips / base,
                     "GFLOP/s": gflop * ips, "of fp32 peak": f"{gflop * ips / peak:.1%}",
                     "first pass s": warm_s})
        print(rows[-1], flush=True)
    m = machine()
    text = "\n".join([
        "# Training-step levers, side by side",
        "",
        f"`{command('benchmarks.levers', argv)}`, {m['date']}, {m['cpu']}, {m['cores']} cores, "
        f"torch {m['torch']}; the default configuration (`--preset quarter-side`), batch "
        f"{cfg.batch_size}, {args.batches} batches a round, median of {args.rounds} interleaved "
        f"rounds; {gflop:.3f} GFLOP an image (forward + backward, flop_counter); float32 "
        f"matmul peak measured in this run {peak:.1f} GFLOP/s. Speed only: no lever here was "
        "trained to its error.",
        "",
        markdown_table(rows, ["lever", "images/s", "x eager", "GFLOP/s", "of fp32 peak",
                              "first pass s"]),
    ])
    print(text)
    write_result(args.name, {"machine": m, "peak_gflop_per_s": peak, "gflop_per_image": gflop,
                             "rows": rows}, text)


if __name__ == "__main__":
    main()
