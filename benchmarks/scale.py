"""Training at scale: a synthetic folder of N JPEGs, its on-disk cache, memory and speed.

Builds (once) a folder of N JPEGs of mixed sizes -- random crops of the faces, rescaled to
sides of 96-320 px at random aspects, plus a few unreadable files -- then measures, each in a
fresh process:
- the cache build (`python -m colorizer cache`): wall seconds;
- one epoch of `train` on the face set held in memory (--cache off), on the face set read from
  its cache (--cache on), and on the N images read from their cache: peak resident memory
  (the process's own maximum RSS) and the training loop's images per second.

The face-set runs do the usual 10 augmented passes; the large run does one pass over its
images, with 1 % held out for test (a fixed, seeded split).
Writes benchmarks/results/scale.{md,json}.

    python -m benchmarks.scale [--n 50000] [--folder /tmp/colorizer-scale]
"""

import argparse
import json
import os
import subprocess
import sys
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np
from PIL import Image

from colorizer.data import BUNDLED, list_images
from research.report import markdown_table

from .common import command, machine, write_result

BROKEN = 3        # unreadable files planted in the synthetic folder


def synthetic_folder(folder, n, faces=BUNDLED):
    """A folder of n JPEGs made from the faces (reused when it is already complete)."""
    folder = Path(folder)
    if folder.is_dir() and sum(1 for _ in folder.rglob("*.jpg")) == n + BROKEN:
        return folder
    sources = sorted(str(p) for p in list_images(faces).values())
    jobs = [(folder / f"{i // 1000:03d}", i, sources[i % len(sources)]) for i in range(n)]
    for sub in {d for d, _, _ in jobs}:
        sub.mkdir(parents=True, exist_ok=True)
    with Pool() as pool:
        pool.map(_one_jpeg, jobs, chunksize=500)
    for k in range(BROKEN):
        (folder / f"broken{k}.jpg").write_bytes(b"not a jpeg")
    return folder


def _one_jpeg(job):
    sub, i, source = job
    rng = np.random.default_rng(i)
    img = Image.open(source).convert("RGB")
    w, h = img.size
    side = rng.uniform(0.5, 1.0)
    cw, ch = int(w * side), int(h * side * rng.uniform(0.8, 1.0))
    x, y = rng.integers(0, w - cw + 1), rng.integers(0, h - ch + 1)
    out_w = int(rng.integers(96, 321))
    out_h = int(out_w * rng.uniform(0.75, 1.33))
    img.crop((x, y, x + cw, y + ch)).resize((out_w, out_h), Image.BICUBIC).save(
        sub / f"img{i:06d}.jpg", quality=90)


def measured(args, env):
    """Run `python -m colorizer ARGS` in a fresh process: (wall seconds, its own peak RSS, MB)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "colorizer", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: colorizer {' '.join(args)}\n{out}")
    return time.perf_counter() - t0, usage.ru_maxrss / 1024, out


def train_epoch(name, data, cache, runs, env, extra=()):
    """One epoch of the default colorizer: its peak RSS and training images per second."""
    out = runs / name
    seconds, rss, _ = measured(["train", "--data", str(data), "--epochs", "1", "--cache", cache,
                                "--out", str(out), "--no-progress", *extra], env)
    history = json.loads((out / "history.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    split = json.loads((out / "split.json").read_text())
    skipped = out / "skipped.txt"
    passes = int(dict(zip(extra[::2], extra[1::2])).get("--augment-factor", 10))
    images = len(split["train"]) * passes
    row = {"run": name, "images": len(split["train"]) + len(split["test"]),
           "cache": cache, "train images": images, "peak RSS MB": rss,
           "img/s": images / history["seconds"][0], "wall s": seconds,
           "test ab_mse": metrics["ab_mse"], "n_test": metrics["n_test"],
           "skipped": len(skipped.read_text().split()) if skipped.exists() else 0}
    print(row, flush=True)
    return row


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--n", type=int, default=50_000, help="synthetic images")
    p.add_argument("--folder", default="/tmp/colorizer-scale", help="for the images, the cache "
                   "and the runs")
    args = p.parse_args(argv)

    root = Path(args.folder)
    env = {**os.environ, "COLORIZER_CACHE": str(root / "cache")}
    t0 = time.perf_counter()
    data = synthetic_folder(root / f"images-{args.n}", args.n)
    made = time.perf_counter() - t0
    build, build_rss, log = measured(["cache", "--data", str(data)], env)
    print(log.strip().splitlines()[-1], f"({build:.0f} s)", flush=True)
    reuse, _, _ = measured(["cache", "--data", str(data)], env)

    runs = root / "runs"
    rows = [train_epoch("faces in memory", BUNDLED, "off", runs, env),
            train_epoch("faces from the cache", BUNDLED, "on", runs, env),
            train_epoch(f"{args.n} from the cache", data, "on", runs, env,
                        ("--augment-factor", "1", "--test-fraction", "0.01"))]
    m = machine()
    md = [f"One epoch of `python -m colorizer train` (the default colorizer), each in a fresh "
          f"process; {m['date']}; {m['cores']} cores ({m['cpu']}), torch {m['torch']}; "
          f"`{command('benchmarks.scale', argv)}`", "",
          f"Synthetic folder: {args.n} JPEGs of 96-320 px (random crops of the faces) and "
          f"{BROKEN} unreadable files. Cache build: {build:.0f} s wall with "
          f"{os.cpu_count()} decoding processes (peak RSS of the main process "
          f"{build_rss:.0f} MB); opening the built cache again: {reuse:.1f} s wall (most of "
          f"it importing torch). Making the folder: {made:.0f} s.", "",
          markdown_table(rows, ["run", "images", "cache", "train images", "peak RSS MB",
                                "img/s", "test ab_mse", "n_test", "skipped"],
                         numeric_right=True), "",
          "img/s: the training loop's augmented images per second in the epoch (evaluation "
          "excluded); test ab_mse in raw CIELAB units² after that one epoch, on each run's own "
          "seeded test split (the large run's is 1 % of its images)."]
    text = "\n".join(md)
    print(text)
    write_result("scale", {"machine": m, "n": args.n, "broken": BROKEN, "make_seconds": made,
                           "cache_build_seconds": build, "cache_build_rss_mb": build_rss,
                           "cache_reuse_seconds": reuse, "runs": rows}, text)


if __name__ == "__main__":
    main()
