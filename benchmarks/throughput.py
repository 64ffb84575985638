"""Training throughput: the bare model against the whole training pipeline, on the same batches.

bare      forward + backward + Adam step on batches made beforehand (no indexing, no augmentation;
          the loss, including the classify head's target encoding, is part of the step)
pipeline  colorizer.train_one_epoch: shuffled indices, gather, batched crop/flip, target scaling,
          forward + backward + Adam step, the loss summed on the device and read once

Both run the same number of batches of the same size; the two are interleaved `--rounds` times
and the median is kept, so a neighbour's load hits both alike. Also reported: the model's FLOPs
per image (torch.utils.flop_counter), the GFLOP/s that gives, and a float32 matmul's GFLOP/s in
the same run as the machine's practical peak. `--device cuda` runs all of it on the GPU; every
timing then waits for the device's queued work before it reads the clock (CUDA runs
asynchronously: without that it would time the host's queueing, not the work).

    python -m benchmarks.throughput [--arch 1 2] [--head tanh sigmoid] [--batches 12]
        [--device cuda] [--name throughput_cuda]
"""

import argparse
import statistics
import time
from dataclasses import replace

import torch
from torch.utils.flop_counter import FlopCounterMode

from colorizer import ARCHS, Config, build_model, random_resized_crop, train_one_epoch
from colorizer.devices import configure_backends, get_device, synchronize
from colorizer.models import loss_fn
from colorizer.train import Training, autocast_for, resolved_precision

from .common import command, machine, train_split, write_result


def matmul_gflops(device, n=2048, seconds=2.0, dtype=torch.float32):
    """Matrix products (float32 unless `dtype`) per second on `device`, in GFLOP/s: rounds of
    products, each timed after the device finished it, until `seconds` have passed."""
    a, b = (torch.randn(n, n, device=device, dtype=dtype) for _ in range(2))
    for _ in range(3):
        a @ b
    count, t0 = 0, _clock(device)
    while _clock(device) - t0 < seconds:
        for _ in range(10):
            a @ b
        count += 10
    return 2 * n**3 * count / (_clock(device) - t0) / 1e9


def _clock(device):
    """The time once `device` has done all it was given."""
    synchronize(device)
    return time.perf_counter()


def flops_per_image(model, size=128, batch=4):
    """Forward + backward FLOPs of one image (matmul/conv FLOPs, as flop_counter counts them)."""
    x = torch.rand(batch, 1, size, size, device=next(model.parameters()).device) * 100
    with FlopCounterMode(display=False) as fc:
        model(x).square().mean().backward()
    model.zero_grad(set_to_none=True)
    return fc.get_total_flops() / batch


def bare_step(model, optimizer, L, ab, cfg):
    """One step on a batch made beforehand, in the precision the pipeline trains `cfg` in."""
    with autocast_for(cfg, L.device):
        loss = loss_fn(model, model(L), ab)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def measure(cfg, train_lab, n_batches, rounds, device):
    torch.manual_seed(0)
    model = build_model(cfg).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    gen = torch.Generator().manual_seed(0)
    # The pipeline's epoch: `factor` augmented passes over `lab`, about n_batches full batches.
    n = min(len(train_lab), cfg.batch_size * n_batches)
    factor = -(-cfg.batch_size * n_batches // n)
    lab, n_images = train_lab[:n].to(device), n * factor
    pipe_cfg = replace(cfg, augment_factor=factor)
    # The bare model gets as many images in batches of the same size, augmented beforehand.
    batches = []
    for idx in (torch.arange(n_images, device=device) % n).split(cfg.batch_size):
        x = random_resized_crop(lab[idx], gen)
        L = x[:, :1].contiguous(memory_format=torch.channels_last)
        batches.append((L, x[:, 1:].contiguous()))

    def run_bare():
        model.train()
        t0 = _clock(device)
        for L, ab in batches:
            bare_step(model, optimizer, L, ab, cfg)
        return n_images / (_clock(device) - t0)

    def run_pipeline():
        t0 = _clock(device)
        train_one_epoch(Training(model, optimizer, gen), lab, pipe_cfg)
        return n_images / (_clock(device) - t0)

    run_bare(), run_pipeline()                      # warm-up: allocator, oneDNN kernels
    bare, pipe = [], []
    for r in range(rounds):                         # alternate which goes first
        if r % 2:
            pipe.append(run_pipeline())
        bare.append(run_bare())
        if not r % 2:
            pipe.append(run_pipeline())
    return statistics.median(bare), statistics.median(pipe), model


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--arch", type=int, nargs="+", default=[1, 2], choices=sorted(ARCHS))
    p.add_argument("--head", nargs="+", default=["tanh", "sigmoid"])
    p.add_argument("--model", default="colorizer", choices=["colorizer", "regressor"])
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--batches", type=int, default=10, help="batches per timed round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--data", help="image folder (default: $COLORIZER_DATA, then ./face_images)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, or auto")
    p.add_argument("--name", default="throughput", help="results file name")
    args = p.parse_args(argv)

    device = get_device(args.device)
    configure_backends(device)
    train, _ = train_split(args.data)
    peak = matmul_gflops(device)
    m = {**machine(), "device": str(device),
         **({"gpu": torch.cuda.get_device_name(device)} if device.type == "cuda" else {})}
    lines = [f"float32 matmul 2048^3: {peak:.1f} GFLOP/s  ({torch.get_num_threads()} threads)",
             f"{'model':<22} {'bare img/s':>10} {'pipeline img/s':>15} {'ratio':>6} "
             f"{'GFLOP/img':>9} {'GFLOP/s':>8} {'of peak':>7}"]
    print("\n".join(lines), flush=True)
    rows = []
    for arch in args.arch:
        for head in args.head:
            cfg = Config(model=args.model, head=head, widths=ARCHS[arch],
                         batch_size=args.batch_size)
            bare, pipe, model = measure(cfg, train.lab, args.batches, args.rounds, device)
            gflop = flops_per_image(model) / 1e9
            row = {"model": args.model, "arch": arch, "head": head, "batch_size": args.batch_size,
                   "precision": resolved_precision(cfg.precision, device),
                   "bare_images_per_s": bare, "pipeline_images_per_s": pipe,
                   "ratio": pipe / bare, "gflop_per_image": gflop,
                   "pipeline_gflop_per_s": gflop * pipe,
                   "fraction_of_matmul_peak": gflop * pipe / peak}
            rows.append(row)
            lines.append(f"{args.model + f' arch{arch} ' + head:<22} {bare:>10.1f} {pipe:>15.1f} "
                         f"{pipe / bare:>6.1%} {gflop:>9.3f} {gflop * pipe:>8.1f} "
                         f"{gflop * pipe / peak:>7.1%}")
            print(lines[-1], flush=True)
    on = m.get("gpu", f"{m['cores']} cores ({m['cpu']})")
    text = "\n".join([
        f"Training throughput on {device}, batch {args.batch_size}, medians of {args.rounds} "
        f"interleaved rounds; {m['date']}; {on}, CUDA {m['cuda']}, torch "
        f"{m['torch']}; `{command('benchmarks.throughput', argv)}`", "", "```", *lines, "```"])
    path = write_result(args.name, {"machine": m, "matmul_gflop_per_s": peak,
                                       "batches_per_round": args.batches, "rounds": args.rounds,
                                       "rows": rows}, text)
    print(f"wrote {path}")

if __name__ == "__main__":
    main()
