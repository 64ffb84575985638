"""Model averaging at shipping size: runs of one configuration (several training seeds), each
compacted to int8 as `export` ships it, scored alone and as the mean of the first 2, 3, ...
outputs, plain and flip-averaged, on the fixed test split.

    python -m benchmarks.ensemble runs/final/default-seed0 runs/final/default-seed1 \
        runs/final/default-seed2 [--name ensemble]
"""

import argparse
from pathlib import Path

import torch
import torch.nn as nn

from colorizer import ColorizerError, ab_mean, evaluate, load_checkpoint
from colorizer.checkpoint import CHECKPOINT
from colorizer.config import Config
from colorizer.models import build_model
from research.report import markdown_table
from research.shipping import compact, expand

from .common import command, machine, train_split, write_result

COLUMNS = ["models", "tta", "ab_mse", "psnr", "colourfulness", "MiB shipped"]


class MeanOutput(nn.Module):
    """Colorizers of one sigmoid or tanh head as one model: the mean of their outputs, which is
    the mean of their a*b* (the heads decode affinely)."""

    def __init__(self, members):
        super().__init__()
        first = members[0]
        if first.head == "classify":
            raise ColorizerError("averaging class scores is not averaging colours: sigmoid or "
                                 "tanh colorizers only")
        self.members = nn.ModuleList(members)
        self.kind, self.head = first.kind, first.head

    def forward(self, L):
        return torch.stack([m(L) for m in self.members]).mean(0)

    def decode(self, out, size=None):
        return self.members[0].decode(out, size)


def shipped_model(folder):
    """A run's model with the weights `export` ships (int8 with per-channel scales), and the
    size of those weights in MiB."""
    ckpt = load_checkpoint(Path(folder) / CHECKPOINT)
    model = build_model(Config.from_dict(ckpt["config"]))
    packed = compact(ckpt["model"])
    model.load_state_dict(expand(packed))
    tensors = [t for v in packed.values() for t in (v.values() if isinstance(v, dict) else [v])]
    return model.eval(), sum(t.nbytes for t in tensors) / 2**20


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("runs", nargs="+", help="run folders, in the order they are added")
    p.add_argument("--name", default="ensemble")
    args = p.parse_args(argv)
    train, test = train_split()
    models, sizes = zip(*[shipped_model(f) for f in args.runs])
    rows = []
    for k in range(1, len(models) + 1):
        for tta in ("none", "flip"):
            model = models[0] if k == 1 else MeanOutput(models[:k])
            m = evaluate(model, test.lab, train_mean=ab_mean(train), baselines=False, tta=tta)
            rows.append({"models": k, "tta": tta, **{c: m[c] for c in COLUMNS[2:5]},
                         "MiB shipped": round(sum(sizes[:k]), 2)})
            print(rows[-1], flush=True)
    info = machine()
    text = "\n".join([
        f"The first N of {len(models)} runs averaged (each int8 as shipped), on the fixed seed-0 "
        f"split ({len(test)} test images); ab MSE in raw CIELAB units², PSNR in dB on 8-bit "
        f"sRGB; {info['date']}; {info['cores']} cores ({info['cpu']}), torch {info['torch']}; "
        f"`{command('benchmarks.ensemble', argv)}`", "",
        markdown_table([{**r, **{c: f"{r[c]:.3f}" for c in COLUMNS[2:5]}} for r in rows],
                       COLUMNS, numeric_right=True)])
    print(text)
    write_result(args.name, {"machine": info, "runs": args.runs, "rows": rows}, text)


if __name__ == "__main__":
    main()
