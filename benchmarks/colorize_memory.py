"""Peak memory and wall time of `colorize` on the photos users bring: a folder of 16 phone-size
JPEGs (4000 x 3000) and one 50-MP image, each run in a process of its own.

The peak is the child's maximum resident set (getrusage through os.wait4: what
`/usr/bin/time -v` prints as "Maximum resident set size"); the photos are smooth synthetic
colour fields (their content does not change the memory, only their size does).

    python -m benchmarks.colorize_memory [--project DIR] [--name colorize_memory]

`--project DIR` runs another checkout's colorizer (e.g. a `git worktree` of an older commit) on
the same files in the same run, so that the two are compared on one machine.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from research.report import markdown_table

from .common import command, machine, write_result

ROOT = Path(__file__).resolve().parents[1]
CASES = {"16 phone photos (4000 x 3000 JPEG)": (16, 4000, 3000),
         "one 50-MP photo (8660 x 5774 JPEG)": (1, 8660, 5774),
         "one photo at the default cap (12247 x 8165 JPEG, 100 MP)": (1, 12247, 8165)}


def photo(width, height, seed):
    """A smooth colour field of the given size (uint8 RGB), cheap to make at any size."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    return Image.fromarray(coarse).resize((width, height), Image.BICUBIC)


def make_folder(folder, n, width, height):
    folder.mkdir(parents=True)
    for i in range(n):
        photo(width, height, i).save(folder / f"photo{i:02d}.jpg", quality=90)
    return folder


def run_colorize(project, inputs, out):
    """(peak RSS in MiB, wall seconds, exit code) of one `colorize` process."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(project), *filter(None, [os.environ.get("PYTHONPATH")])])}
    argv = [sys.executable, "-m", "colorizer", "colorize", str(inputs), "--out", str(out),
            "--no-progress"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, cwd=project, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    return usage.ru_maxrss / 1024, seconds, os.waitstatus_to_exitcode(status)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--project", action="append", default=[], metavar="DIR",
                   help="another checkout to measure beside this one (repeatable)")
    p.add_argument("--name", default="colorize_memory")
    p.add_argument("--cases", nargs="+", type=int, metavar="N",
                   help="run these of the cases only (0-based: " + "; ".join(
                       f"{i} {c}" for i, c in enumerate(CASES)) + ")")
    args = p.parse_args(argv)

    projects = {"this checkout": ROOT, **{str(d): Path(d).resolve() for d in args.project}}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (case, (n, width, height)) in enumerate(CASES.items()):
            if args.cases is not None and i not in args.cases:
                continue
            inputs = make_folder(Path(tmp) / f"case{i}" / "in", n, width, height)
            for label, project in projects.items():
                out = Path(tmp) / f"out-{len(rows)}"
                peak, seconds, code = run_colorize(project, inputs, out)
                rows.append({"case": case, "colorizer": label, "peak RSS MiB": peak,
                             "wall s": seconds, "exit": code,
                             "MP": n * width * height / 1e6})
                print(rows[-1], flush=True)
    m = machine()
    text = "\n".join([
        "# colorize: peak memory and wall time",
        "",
        f"`{command('benchmarks.colorize_memory', argv)}`, {m['date']}, {m['cpu']}, "
        f"{m['cores']} cores, torch {m['torch']}; each row one `colorize` process (shipped "
        "model, flip averaging, CPU), its peak resident set from getrusage.",
        "",
        markdown_table(rows, ["case", "colorizer", "MP", "peak RSS MiB", "wall s", "exit"]),
    ])
    print(text)
    write_result(args.name, {"machine": m, "rows": rows}, text)


if __name__ == "__main__":
    main()
