"""One command that checks the CUDA path on a machine with a GPU, made for a short slot: one
command of at most 10 minutes, about 15 in all, a bare machine (docs/usage.md, "On a GPU").

It prints its plan and estimate first, then runs each step in a process group of its own under
a time limit (a step past it is killed, children included), and appends each step's result to
benchmarks/results/speed/gpu_check.{json,md} the moment the step ends: a command stopped at its
limit still returns every finished step. A failed step does not stop the rest.

train       `colorizer train` for 2 epochs on the GPU
resume      the same run killed after its first epoch, then `train --resume`: does it end on the
            figure the uninterrupted run ends on?
evaluate    `colorizer evaluate` of the shipped model on the GPU (plain and flip-averaged)
colorize    `colorizer colorize` of a few faces on the GPU
notebook    main.ipynb in its fast profile (COLORIZER_FAST=1) on the GPU: through jupyter where
            it is installed, else its code cells in one Python process (magics dropped)
torchrun    `torchrun` with one process per GPU (one GPU: world size 1, still a real nccl
            process group, DDP and SyncBatchNorm), one epoch
throughput  benchmarks.throughput on the GPU (results/speed/throughput_cuda.{md,json})
suite       the test suite (tests/; `--only suite`, a command of its own: it does not fit the
            first one's 8 minutes; CI unset there: the demo's and ONNX's tools may be missing)
full        only with --full: the notebook's `full` profile (the study's epochs) for at most
            --minutes; its runs resume from their checkpoints at the next call (run folders in
            runs/notebook, kept on a warm machine), so the profile finishes over several calls

    python -m benchmarks.gpu_check [--plan] [--only STEP ...] [--skip STEP ...] [--full --minutes 9]

Without CUDA it prints the plan, writes nothing and exits 2 (`--plan`: the plan alone, exit 0);
`--device cpu` runs the same steps on the CPU, which checks the check itself
(tests/test_benchmarks.py).

A GPU machine without a registry may lack a package the project needs (safetensors, for the
shipped weights): put its wheels in `wheels/` (`pip download safetensors -d wheels`, git-ignored:
carry it) and the check installs what is missing from there first, saying so.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from research.results import result_path

from .common import command, machine, write_result

ROOT = Path(__file__).resolve().parents[1]
BUDGET_S = 480              # the default command: 8 minutes, inside a 10-minute slot


@dataclass(frozen=True)
class Step:
    name: str
    limit_s: int            # killed past this
    estimate_s: int         # what it is expected to take on one H200 (before any was measured)


STEPS = (Step("train", 60, 25), Step("resume", 90, 35), Step("evaluate", 45, 20),
         Step("colorize", 40, 15), Step("notebook", 120, 60), Step("torchrun", 60, 25),
         Step("throughput", 60, 40), Step("suite", 540, 300), Step("full", 540, 540))
BY_NAME = {s.name: s for s in STEPS}
DEFAULT = ("train", "resume", "evaluate", "colorize", "notebook", "torchrun", "throughput")
assert sum(BY_NAME[s].limit_s for s in DEFAULT) <= BUDGET_S
# The full profile's epochs (research.runs.PROFILES["full"]: regressor, sigmoid, tanh,
# Architecture 1, the cases at 100 and 400, classify twice) and a guess of a GPU epoch's time
FULL_EPOCHS = 100 * 6 + 100 + 400
GUESS_EPOCH_S = 3.0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--device", default="cuda", help="cuda (default), or cpu to check the check")
    p.add_argument("--only", nargs="*", choices=[s.name for s in STEPS], metavar="STEP",
                   help=f"these steps (default: {' '.join(DEFAULT)})")
    p.add_argument("--skip", nargs="*", default=[], choices=[s.name for s in STEPS],
                   metavar="STEP")
    p.add_argument("--full", action="store_true", help="also run the notebook's full profile")
    p.add_argument("--minutes", type=float, default=9.0, help="--full: its time in this call")
    p.add_argument("--plan", "--dry-run", action="store_true",
                   help="print the plan and its estimate; run and write nothing")
    p.add_argument("--limit", type=int, help="train on the first N images only (default: all)")
    p.add_argument("--out", help="folder for the steps' runs (default: a temporary folder)")
    p.add_argument("--name", default="gpu_check", help="results file name")
    args = p.parse_args(argv)

    steps = plan(args)
    print(describe_plan(steps, args), flush=True)
    cuda = args.device.startswith("cuda") and torch.cuda.is_available()
    if args.plan or (args.device.startswith("cuda") and not cuda):   # nothing measured: nothing
        if not args.plan:                                             # written over a result
            print("gpu_check: no CUDA device here (torch.cuda.is_available() is False): nothing "
                  "checked, nothing written", file=sys.stderr)
        return 0 if args.plan else 2
    m = {**machine(), "device": args.device,
         **({"gpu": torch.cuda.get_device_name(0), "gpus": torch.cuda.device_count(),
             "capability": ".".join(map(str, torch.cuda.get_device_capability(0)))}
            if cuda else {})}
    results = Results(args.name, m, command("benchmarks.gpu_check", argv), steps)

    m["installed_from_wheels"] = install_missing()
    out = Path(args.out or tempfile.mkdtemp(prefix="gpu-check-"))
    check = Check(args.device, out, args.limit, args.minutes)
    for step in steps:
        result = check.run(step)
        results.add(step.name, result)
        print(row(step.name, result), flush=True)
    print(results.text())
    return 0 if all(r["status"] in ("ok", "skipped") for r in results.steps.values()) else 1


def plan(args):
    """The steps this call runs, in order."""
    names = list(args.only) if args.only else list(DEFAULT)
    if args.full and "full" not in names:
        names.append("full")
    return [BY_NAME[n] for n in names if n not in set(args.skip)]


def describe_plan(steps, args):
    """The plan in words: each step's limit and estimate, the total against one command's 10
    minutes, and for --full how many calls the profile needs (a guess until measured)."""
    total = sum(s.estimate_s for s in steps)
    worst = sum(s.limit_s if s.name != "full" else round(args.minutes * 60) for s in steps)
    lines = [f"gpu_check plan: {len(steps)} step(s), about {total / 60:.1f} min (at most "
             f"{worst / 60:.1f} min if every step runs to its limit; one command may run 10)"]
    lines += [f"  {s.name:<10} limit {s.limit_s:>3} s, about {s.estimate_s:>3} s"
              for s in steps if s.name != "full"]
    if any(s.name == "full" for s in steps):
        need = FULL_EPOCHS * GUESS_EPOCH_S / 60
        lines.append(f"  full       {args.minutes:g} min this call; the profile's {FULL_EPOCHS} "
                     f"epochs at a guessed {GUESS_EPOCH_S:g} s each need ~{need:.0f} min: "
                     f"~{-(-need // args.minutes):.0f} call(s) of --full --minutes "
                     f"{args.minutes:g} (each resumes where the last stopped)")
    return "\n".join(lines)


class Results:
    """gpu_check.{json,md}, rewritten after every step: what ran so far, what is still to run."""

    def __init__(self, name, m, cmd, steps):
        self.name, self.m, self.cmd = name, m, cmd
        self.steps = {}
        self.planned = [s.name for s in steps]
        self.write()

    def add(self, step, result):
        self.steps[step] = result
        self.write()

    def write(self):
        pending = {s: {"status": "not run yet", "seconds": 0.0, "figures": {}}
                   for s in self.planned if s not in self.steps}
        write_result(self.name, {"machine": self.m, "command": self.cmd,
                                 "steps": {**self.steps, **pending}}, self.text())

    def text(self):
        m = self.m
        on = (f"{m.get('gpus', 0)} x {m['gpu']} (compute capability {m['capability']})"
              if "gpu" in m else f"{m['cores']} cores ({m['cpu']}), no CUDA")
        rows = [row(s, self.steps.get(s, {"status": "not run yet", "seconds": 0.0,
                                          "figures": {}})) for s in self.planned]
        return "\n".join([f"GPU check on {m['device']}: {on}; {m['date']}; torch {m['torch']}; "
                          f"`{self.cmd}`", "", "| step | status | s | figures |",
                          "|---|---|---:|---|", *rows])


NEEDED = ("safetensors",)        # beyond what such a machine has: torch, scikit-image, ...


def install_missing(wheels=ROOT / "wheels"):
    """pip-install the NEEDED modules that are missing from the wheels in `wheels/`, if any."""
    missing = [m for m in NEEDED if not _has(m)]
    if missing and wheels.is_dir():
        print(f"gpu_check: installing {', '.join(missing)} from {wheels}", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-index",
                        "--find-links", str(wheels), *missing], check=False)
    return missing


def child_env(**extra):
    """This process's environment with the checkout first on PYTHONPATH (extended, never
    replaced: wheels carried with `pip install --target` + PYTHONPATH stay visible)."""
    paths = [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths), "MPLBACKEND": "Agg", **extra}


class Check:
    """The steps: each runs commands in child processes and returns its figures."""

    def __init__(self, device, out, limit, minutes):
        self.device, self.out, self.limit, self.minutes = device, out, limit, minutes
        self.step = None

    def run(self, step):
        self.step = step
        t0 = time.perf_counter()
        try:
            figures = getattr(self, step.name)()
            status = "ok"
        except subprocess.TimeoutExpired:
            figures, status = {"error": f"over its {step.limit_s} s: killed"}, "timed out"
        except Failed as e:
            figures, status = {"error": str(e)[-2000:]}, "failed"
        return {"status": status, "seconds": round(time.perf_counter() - t0, 1),
                "figures": figures}

    def sh(self, *cmd, env=None, limit=None, ok_codes=(0,)):
        """Run a command in a process group of its own; its output, or Failed with its tail.
        Past the step's limit the whole group is killed (TimeoutExpired)."""
        proc = subprocess.Popen([str(c) for c in cmd], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, cwd=ROOT,
                                env=child_env(**(env or {})), start_new_session=True)
        try:
            text, _ = proc.communicate(timeout=limit or self.step.limit_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise
        if proc.returncode not in ok_codes:
            raise Failed(f"exit {proc.returncode}: {text[-2000:]}")
        return text

    def train_args(self, epochs, out):
        limit = ["--limit", self.limit] if self.limit else []
        return ["-m", "colorizer", "train", "--device", self.device, "--epochs", epochs,
                "--no-progress", "--out", out, *limit]

    def suite(self):
        # nbmake (in addopts) may be missing there; CI emptied: gradio and selenium are absent on
        # such a machine, and under CI their tests fail instead of skipping
        text = self.sh(sys.executable, "-m", "pytest", "-q", "-o", "addopts=", "-p",
                       "no:cacheprovider", "tests", env={"CI": ""}, ok_codes=(0, 1))
        summary = text.strip().splitlines()[-1] if text.strip() else ""
        if "failed" in summary or "error" in summary:
            raise Failed(text[-3000:])
        return {"summary": summary}

    def train(self):
        text = self.sh(sys.executable, *self.train_args(2, self.out / "train"))
        return {"ab_mse": _last_figure(text),
                "epoch_seconds": json.loads((self.out / "train" / "history.json")
                                            .read_text())["seconds"]}

    def resume(self):
        folder = self.out / "resume"
        proc = subprocess.Popen([str(c) for c in (sys.executable, *self.train_args(2, folder))],
                                cwd=ROOT, env=child_env(), stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, start_new_session=True)
        deadline = time.monotonic() + self.step.limit_s / 2
        while not (folder / "checkpoint.pt").exists():     # written after the first epoch
            if proc.poll() is not None or time.monotonic() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
                raise Failed(f"no checkpoint after the first epoch: {proc.stderr.read()[-2000:]}")
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        epoch = torch.load(folder / "checkpoint.pt", weights_only=True)["epoch"]
        if epoch != 1:
            raise Failed(f"the run was not killed in its second epoch (checkpoint of epoch "
                         f"{epoch})")
        self.sh(sys.executable, *self.train_args(2, folder), "--resume",
                limit=self.step.limit_s / 2)
        resumed = _metrics(folder)["ab_mse"]
        whole = _metrics(self.out / "train").get("ab_mse")     # the train step's run
        return {"ab_mse_resumed": resumed, "ab_mse_uninterrupted": whole,
                "same": resumed == whole}

    def evaluate(self):
        figures = {}
        for tta in ("none", "flip"):
            text = self.sh(sys.executable, "-m", "colorizer", "evaluate", "--device",
                           self.device, "--json", "--tta", tta)
            m = json.loads(text.strip().splitlines()[-1])
            figures[f"ab_mse_tta_{tta}"] = m["ab_mse"]
            figures[f"psnr_tta_{tta}"] = m["psnr"]
        return figures

    def colorize(self):
        faces = sorted((ROOT / "face_images").glob("*.jpg"))[:8]
        text = self.sh(sys.executable, "-m", "colorizer", "colorize", "--device", self.device,
                       *faces, "--out", self.out / "colorized", "--no-progress")
        return {"last_line": text.strip().splitlines()[-1]}

    def notebook(self):
        env = {"COLORIZER_FAST": "1"}
        if _has("nbconvert") and _has("ipykernel"):
            self.sh(sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook",
                    "--execute", "--output-dir", self.out, ROOT / "main.ipynb", env=env)
            executed = json.loads((self.out / "main.ipynb").read_text())
            text = "\n".join("".join(o.get("text", "")) for c in executed["cells"]
                             for o in c.get("outputs", []))
            how = "jupyter nbconvert --execute"
        else:
            script = self.out / "main_cells.py"
            script.write_text(notebook_as_script(ROOT / "main.ipynb"))
            text = self.sh(sys.executable, script, env=env)
            how = "code cells in one process (no jupyter here)"
        return {"how": how, "device_line": device_line(text)}

    def torchrun(self):
        cuda = self.device.startswith("cuda")
        n = max(1, torch.cuda.device_count()) if cuda else 2
        folder = self.out / "torchrun"
        limit = ["--limit", self.limit] if self.limit else []
        text = self.sh(sys.executable, "-m", "torch.distributed.run", "--standalone",
                       "--nproc_per_node", n, "-m", "colorizer", "train", "--device",
                       self.device.split(":")[0], "--epochs", 1, "--no-progress", "--out",
                       folder, *limit)
        processes = _metrics(folder).get("processes", {})
        if not processes.get("ddp"):
            raise Failed(f"the run did not train under DDP: {processes}")
        return {"processes": n, **processes, "ab_mse": _last_figure(text)}

    def throughput(self):
        self.sh(sys.executable, "-m", "benchmarks.throughput", "--device", self.device,
                "--name", "throughput_cuda", "--rounds", "3")
        rows = json.loads((result_path("throughput_cuda")).read_text())["rows"]
        return {f"arch{r['arch']} {r['head']} img/s": round(r["pipeline_images_per_s"], 1)
                for r in rows}

    def full(self):
        """The full profile for at most --minutes; stopped there, its runs resume next call."""
        script = self.out / "main_full.py"
        script.write_text(notebook_as_script(ROOT / "main.ipynb", profile="full"))
        t0 = time.perf_counter()
        try:
            self.sh(sys.executable, script, limit=round(self.minutes * 60))
            done = True
        except subprocess.TimeoutExpired:
            done = False
        runs = {}
        for ckpt in sorted((ROOT / "runs" / "notebook").glob("*/checkpoint.pt")) + [
                ROOT / "output_sigmoid" / "checkpoint.pt", ROOT / "output_tanh" / "checkpoint.pt"]:
            if ckpt.is_file():
                c = torch.load(ckpt, map_location="cpu", weights_only=True)
                runs[ckpt.parent.name] = f"{c['epoch']}/{c['config']['epochs']}"
        return {"finished": done, "minutes": round((time.perf_counter() - t0) / 60, 1),
                "epochs_by_run": runs}


class Failed(Exception):
    """A step's command failed: the message holds what it printed last."""


def device_line(text):
    """The line where the notebook says where it runs (report.provenance: "... on cuda ...")."""
    return next((line for line in text.splitlines() if " on cuda" in line or " on cpu" in line),
                "")


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
    line = next(line for line in reversed(text.strip().splitlines()) if "ab_mse" in line)
    words = line.split()
    return float(words[words.index("ab_mse") + 1])


def row(step, r):
    figures = ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                        for k, v in r["figures"].items())
    return f"| {step} | {r['status']} | {r['seconds']:.1f} | {figures.replace('|', '/')} |"


if __name__ == "__main__":
    sys.exit(main())
