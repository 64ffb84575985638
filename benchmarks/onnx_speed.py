"""CPU inference speed of the shipped colorizer: onnxruntime against PyTorch eager, in one run.

Both predict raw a*b* from L* of the test faces (decoding included), at each batch size; the two
are interleaved `--rounds` times and the median kept, so a neighbour's load hits both alike.

    python -m benchmarks.onnx_speed [--batch 1 16] [--rounds 5]
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from colorizer import load_model, predict
from colorizer.evaluation import PLAIN
from colorizer.serving.deploy import OnnxColorizer, export_onnx
from colorizer.serving.pretrained import shipped_weights
from research.report import markdown_table

from .common import command, machine, train_split, write_result


def images_per_second(run, L, batch, seconds=2.0):
    """How many images of L `run` colorizes per second, `batch` at a time, for about `seconds`."""
    done, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for i in range(0, len(L), batch):
            run(L[i:i + batch])
            done += len(L[i:i + batch])
    return done / (time.perf_counter() - t0)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--batch", type=int, nargs="+", default=[1, 16])
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args(argv)

    _, test = train_split()
    L = test.L
    model, ckpt = load_model(shipped_weights(), torch.device("cpu"))
    path = export_onnx(model, Path(tempfile.mkdtemp()) / "colorizer.onnx", ckpt["config"])
    onnx = OnnxColorizer(path)
    runs = {"pytorch eager": lambda x: predict(model, x, tta=PLAIN),
            "onnxruntime": lambda x: onnx.predict(x, tta=PLAIN)}
    for run in runs.values():                       # warm-up: allocators, kernels, sessions
        run(L[:16])
    rows = []
    for batch in args.batch:
        speeds = {name: [] for name in runs}
        for r in range(args.rounds):
            for name in (list(runs) if r % 2 == 0 else list(runs)[::-1]):
                speeds[name].append(images_per_second(runs[name], L, batch))
        eager, ort = (statistics.median(speeds[n]) for n in runs)
        rows.append({"batch": batch, "pytorch eager img/s": eager, "onnxruntime img/s": ort,
                     "onnxruntime / eager": ort / eager})
        print(rows[-1], flush=True)
    m = machine()
    text = "\n".join([
        f"CPU inference of the shipped colorizer on the {len(L)} test faces (128 px, decoding "
        f"included), medians of {args.rounds} interleaved rounds of about 2 s; {m['date']}; "
        f"{m['cores']} cores ({m['cpu']}), {m['torch_threads']} torch threads, torch "
        f"{m['torch']}; `{command('benchmarks.onnx_speed', argv)}`", "",
        markdown_table(rows, list(rows[0]), fmt="{:.2f}", numeric_right=True)])
    print(text)
    write_result("onnx_speed", {"machine": m, "rounds": args.rounds, "rows": rows}, text)


if __name__ == "__main__":
    main()
