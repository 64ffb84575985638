"""How long the demo's hints tab takes to colorize a photo again after a point is added or
removed (demo.recolorize: the photo's L* is kept, only a*b* is predicted and painted again), for
photos of 0.25, 1 and 4 MP with 0, 1 and 10 points, on this machine's CPU.

    python -m benchmarks.recolorize [--repeats 7]

Writes benchmarks/results/speed/recolorize.{json,md}.
"""

import argparse
import statistics

import numpy as np
import torch

from colorizer.data import lightness
from colorizer.serving import demo
from colorizer.serving.pretrained import pretrained

from .common import command, machine, write_result

SIDES = (500, 1000, 2000)           # square photos: 0.25, 1 and 4 MP
POINTS = (0, 1, 10)


def timings(model, side, points, repeats, rng):
    """Milliseconds of each of `repeats` re-colorizes (after one to warm up)."""
    rgb = (rng.random((side, side, 3)) * 255).astype(np.uint8)
    state = {"L": lightness(rgb), "points": []}
    for x, y in rng.integers(0, side, (points, 2)):
        state = demo.with_point(state, int(x), int(y), "#c0392b")
    demo.recolorize(model, state)
    return [demo.recolorize(model, state)[1] for _ in range(repeats)]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--repeats", type=int, default=7)
    args = p.parse_args(argv)
    torch.set_grad_enabled(False)
    model = pretrained(torch.device("cpu"))
    rng = np.random.default_rng(0)
    rows = []
    for side in SIDES:
        for n in POINTS:
            ms = timings(model, side, n, args.repeats, rng)
            rows.append({"megapixels": side * side / 1e6, "side": side, "points": n,
                         "median_ms": statistics.median(ms), "min_ms": min(ms),
                         "max_ms": max(ms)})
    m = machine()
    lines = [f"**Re-colorizing a photo after each change of its hints** (demo.recolorize: the "
             f"shipped model and its hint part, flip-averaged as the demo runs it, "
             f"{args.repeats} repeats after one warm-up; the photo's L* kept, a*b* predicted "
             f"and painted again). "
             f"{m['date']}, {m['cores']} cores ({m['cpu']}), torch {m['torch']}, "
             f"{m['torch_threads']} threads, commit {m['commit']}; "
             f"`{command('benchmarks.recolorize', argv)}`", "",
             "| photo | points | median (ms) | min (ms) | max (ms) |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {r['side']} x {r['side']} ({r['megapixels']:g} MP) | {r['points']} | "
              f"{r['median_ms']:.0f} | {r['min_ms']:.0f} | {r['max_ms']:.0f} |" for r in rows]
    text = "\n".join(lines)
    print(text)
    write_result("recolorize", {"machine": m, "repeats": args.repeats, "rows": rows}, text)


if __name__ == "__main__":
    main()
