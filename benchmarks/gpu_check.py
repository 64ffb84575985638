"""One command that checks the CUDA path on a machine with a GPU, in at most about 8 minutes.

Steps, each in its own process, each with a time limit; a failed step does not stop the rest:

suite       the test suite (tests/; the notebook runs in its own step)
train       `colorizer train` for 2 epochs on the GPU
resume      the same run killed after its first epoch, then `train --resume`: does it end on the
            figure the uninterrupted run ends on?
evaluate    `colorizer evaluate` of the shipped model on the GPU (plain and flip-averaged)
colorize    `colorizer colorize` of a few faces on the GPU
notebook    main.ipynb in its fast profile (COLORIZER_FAST=1) on the GPU: through jupyter where
            it is installed, else its code cells in one Python process (magics dropped)
torchrun    `torchrun` over nccl with every GPU there, one epoch
throughput  benchmarks.throughput on the GPU (results/throughput_cuda.{md,json})
full        only with --full: the notebook's `full` profile (the study's epochs), timed

It prints a table (each step's status, seconds and figures) and writes it with every step's
output tail to benchmarks/results/gpu_check.{md,json}. Without CUDA it says so on one line and
exits 2. `--device cpu` runs the same steps on the CPU: that checks the check itself (the tests
do, on a few images).

A GPU machine without a registry may lack a package the project needs (safetensors, for the
shipped weights): put its wheels in `wheels/` (`pip download safetensors -d wheels`, git-ignored:
carry it) and the check installs what is missing from there first, saying so.

    python -m benchmarks.gpu_check [--full] [--skip STEP ...] [--limit N] [--out DIR]
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from .common import RESULTS, command, machine, write_result

ROOT = Path(__file__).resolve().parents[1]
STEPS = ("suite", "train", "resume", "evaluate", "colorize", "notebook", "torchrun",
         "throughput", "full")
LIMITS = {"suite": 240, "train": 90, "resume": 120, "evaluate": 60, "colorize": 60,
          "notebook": 120, "torchrun": 90, "throughput": 90, "full": 3600}      # seconds


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--device", default="cuda", help="cuda (default), or cpu to check the check")
    p.add_argument("--full", action="store_true", help="also time the notebook's full profile")
    p.add_argument("--skip", nargs="*", default=[], choices=STEPS, metavar="STEP")
    p.add_argument("--limit", type=int, help="train on the first N images only (default: all)")
    p.add_argument("--out", help="folder for the steps' runs (default: a temporary folder)")
    p.add_argument("--name", default="gpu_check", help="results file name")
    args = p.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("gpu_check: no CUDA device here (torch.cuda.is_available() is False): nothing "
              "checked", file=sys.stderr)
        return 2

    installed = install_missing()
    out = Path(args.out or tempfile.mkdtemp(prefix="gpu-check-"))
    check = Check(args.device, out, args.limit)
    skip = set(args.skip) | (set() if args.full else {"full"})
    results = {}
    for step in STEPS:
        if step in skip:
            results[step] = {"status": "skipped", "seconds": 0.0, "figures": {}}
            continue
        results[step] = check.run(step)
        print(row(step, results[step]), flush=True)
    m = {**machine(), "device": args.device, "installed_from_wheels": installed,
         **({"gpu": torch.cuda.get_device_name(0),
             "gpus": torch.cuda.device_count()} if torch.cuda.is_available() else {})}
    text = report(results, m, command("benchmarks.gpu_check", argv))
    print(text)
    write_result(args.name, {"machine": m, "steps": results}, text)
    return 0 if all(r["status"] in ("ok", "skipped") for r in results.values()) else 1


NEEDED = ("safetensors",)        # beyond what such a machine has: torch, scikit-image, ...


def install_missing(wheels=ROOT / "wheels"):
    """pip-install the NEEDED modules that are missing from the wheels in `wheels/`, if any."""
    missing = [m for m in NEEDED if not _has(m)]
    if missing and wheels.is_dir():
        print(f"gpu_check: installing {', '.join(missing)} from {wheels}", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-index",
                        "--find-links", str(wheels), *missing], check=False)
    return missing


class Check:
    """The steps: each runs commands in child processes and returns its status and figures."""

    def __init__(self, device, out, limit):
        self.device, self.out, self.limit = device, out, limit
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}

    def run(self, step):
        t0 = time.perf_counter()
        try:
            figures = getattr(self, step)()
            status = "ok"
        except subprocess.TimeoutExpired:
            figures, status = {"error": f"over its {LIMITS[step]} s"}, "timed out"
        except Failed as e:
            figures, status = {"error": str(e)[-2000:]}, "failed"
        return {"status": status, "seconds": round(time.perf_counter() - t0, 1),
                "figures": figures}

    def sh(self, *cmd, step, env=None):
        """Run a command; its stdout, or Failed with the tail of its output."""
        r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, cwd=ROOT,
                           env={**self.env, **(env or {})}, timeout=LIMITS[step])
        if r.returncode != 0:
            raise Failed(f"exit {r.returncode}: {(r.stdout + r.stderr)[-2000:]}")
        return r.stdout

    def train_args(self, epochs, out):
        limit = ["--limit", self.limit] if self.limit else []
        return ["-m", "colorizer", "train", "--device", self.device, "--epochs", epochs,
                "--no-progress", "--out", out, *limit]

    def suite(self):
        # the notebook has its own step; nbmake (in addopts) may not be installed here
        text = self.sh(sys.executable, "-m", "pytest", "-q", "-o", "addopts=", "-p",
                       "no:cacheprovider", "tests", step="suite")
        return {"summary": text.strip().splitlines()[-1]}

    def train(self):
        text = self.sh(sys.executable, *self.train_args(2, self.out / "train"), step="train")
        return {"ab_mse": _last_figure(text),
                "epoch_seconds": json.loads((self.out / "train" / "history.json")
                                            .read_text())["seconds"]}

    def resume(self):
        folder = self.out / "resume"
        proc = subprocess.Popen([str(c) for c in (sys.executable, *self.train_args(2, folder))],
                                cwd=ROOT,
                                env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + LIMITS["resume"] / 2
        while not (folder / "checkpoint.pt").exists():     # written after the first epoch
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise Failed(f"no checkpoint after the first epoch: {proc.stderr.read()[-2000:]}")
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        epoch = torch.load(folder / "checkpoint.pt", weights_only=True)["epoch"]
        if epoch != 1:
            raise Failed(f"the run was not killed in its second epoch (checkpoint of epoch "
                         f"{epoch})")
        self.sh(sys.executable, *self.train_args(2, folder), "--resume", step="resume")
        resumed = _metrics(folder)["ab_mse"]
        whole = _metrics(self.out / "train").get("ab_mse")     # the train step's run
        return {"ab_mse_resumed": resumed, "ab_mse_uninterrupted": whole,
                "same": resumed == whole}

    def evaluate(self):
        figures = {}
        for tta in ("none", "flip"):
            text = self.sh(sys.executable, "-m", "colorizer", "evaluate", "--device",
                           self.device, "--json", "--tta", tta, step="evaluate")
            m = json.loads(text)
            figures[f"ab_mse_tta_{tta}"] = m["ab_mse"]
            figures[f"psnr_tta_{tta}"] = m["psnr"]
        return figures

    def colorize(self):
        faces = sorted((ROOT / "face_images").glob("*.jpg"))[:8]
        text = self.sh(sys.executable, "-m", "colorizer", "colorize", "--device", self.device,
                       *faces, "--out", self.out / "colorized", "--no-progress",
                       step="colorize")
        return {"last_line": text.strip().splitlines()[-1]}

    def notebook(self):
        env = {"COLORIZER_FAST": "1"}
        if _has("nbconvert") and _has("ipykernel"):
            self.sh(sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook",
                    "--execute", "--output-dir", self.out, ROOT / "main.ipynb", step="notebook",
                    env=env)
            return {"how": "jupyter nbconvert --execute"}
        script = self.out / "main_cells.py"
        script.write_text(notebook_as_script(ROOT / "main.ipynb"))
        text = self.sh(sys.executable, script, step="notebook", env=env)
        return {"how": "code cells in one process (no jupyter here)",
                "device_line": next((line for line in text.splitlines()
                                     if line.startswith("device:")), "")}

    def torchrun(self):
        n = max(1, torch.cuda.device_count()) if self.device.startswith("cuda") else 2
        folder = self.out / "torchrun"
        limit = ["--limit", self.limit] if self.limit else []
        text = self.sh(sys.executable, "-m", "torch.distributed.run", "--standalone",
                       "--nproc_per_node", n, "-m", "colorizer", "train", "--device",
                       self.device.split(":")[0], "--epochs", 1, "--no-progress", "--out",
                       folder, *limit, step="torchrun")
        return {"processes": n, "ab_mse": _last_figure(text)}

    def throughput(self):
        self.sh(sys.executable, "-m", "benchmarks.throughput", "--device", self.device,
                "--name", "throughput_cuda", "--rounds", "3", step="throughput")
        rows = json.loads((RESULTS / "throughput_cuda.json").read_text())["rows"]
        return {f"arch{r['arch']} {r['head']} img/s": round(r["pipeline_images_per_s"], 1)
                for r in rows}

    def full(self):
        t0 = time.perf_counter()
        script = self.out / "main_full.py"
        script.write_text(notebook_as_script(ROOT / "main.ipynb", profile="full"))
        self.sh(sys.executable, script, step="full")
        return {"minutes": round((time.perf_counter() - t0) / 60, 1)}


class Failed(Exception):
    """A step's command failed: the message holds what it printed last."""


def notebook_as_script(path, profile=None):
    """The notebook's code cells as one script: IPython magics dropped, IPython's display
    standing in as print where IPython is absent, and PROFILE set when `profile` is given."""
    cells = json.loads(Path(path).read_text())["cells"]
    lines = ["import sys, types",
             "try:\n    import IPython.display\nexcept ImportError:",
             "    shim = types.ModuleType('IPython.display')",
             "    shim.display, shim.Markdown = print, str",
             "    sys.modules['IPython'] = types.ModuleType('IPython')",
             "    sys.modules['IPython.display'] = shim"]
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        if profile:
            source = source.replace("PROFILE = None", f"PROFILE = {profile!r}", 1)
        lines += [line for line in source.splitlines() if not line.lstrip().startswith("%")]
    return "\n".join(lines) + "\n"


def _has(module):
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _metrics(folder):
    """A finished run's metrics.json ({} where there is none)."""
    path = Path(folder) / "metrics.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _last_figure(text):
    """The test ab_mse of `train`'s last line ('test ab_mse 12.34 raw CIELAB units^2 ...')."""
    words = text.strip().splitlines()[-1].split()
    return float(words[words.index("ab_mse") + 1])


def row(step, r):
    figures = ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                        for k, v in r["figures"].items())
    return f"| {step} | {r['status']} | {r['seconds']:.1f} | {figures.replace('|', '/')} |"


def report(results, m, cmd):
    on = f"{m.get('gpus', 0)} x {m['gpu']}" if "gpu" in m else f"{m['cores']} cores ({m['cpu']})"
    return "\n".join([f"GPU check on {m['device']}: {on}; {m['date']}; torch {m['torch']}; "
                      f"`{cmd}`", "", "| step | status | s | figures |", "|---|---|---:|---|",
                      *(row(step, r) for step, r in results.items())])


if __name__ == "__main__":
    sys.exit(main())
