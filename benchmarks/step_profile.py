"""Where a training step's time goes: each block of the model timed forward + backward on its own
input, beside the augmentation, the loss and the optimizer step, and the whole step.

Each part runs `--repeats` times at the training batch size after a warm-up; the table gives
milliseconds per step and the share of the sum. The parts are timed alone, so their sum differs
from the whole step by what runs between them (the autograd graph across blocks, allocation).

    python -m benchmarks.step_profile [--configs default default+ab_stride=2 ...] [--repeats 20]
"""

import argparse
import statistics
import time

import torch

from colorizer.data import random_resized_crop
from colorizer.models import build_model, loss_fn
from colorizer.train import autocast_for, build_optimizer
from research.report import markdown_table

from .common import command, machine, train_split, write_result
from .quality import config, config_name


def _clock(fn, repeats):
    """Milliseconds per call of `fn`, after two calls of warm-up."""
    for _ in range(2):
        fn()
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - t0) / repeats * 1e3


def _blocks(model):
    """(name, modules) of each block: a convolution and what follows it up to the next one (the
    space-to-depth fold is one block with the convolution after it)."""
    out = []
    for part in ("encoder", "decoder"):
        for m in getattr(model, part):
            after_fold = out and isinstance(out[-1][1][-1], torch.nn.PixelUnshuffle)
            if (isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)) and not after_fold
                    or not out or not out[-1][0].startswith(part)):
                out.append((f"{part} {len([n for n, _ in out if n.startswith(part)]) + 1}", []))
            out[-1][1].append(m)
    return out


def _block_time(modules, x, repeats, first=False):
    """Forward + backward of a block on an input like `x` (which needs its gradient unless the
    block is the `first`); its output (the next block's input)."""
    block = torch.nn.Sequential(*modules).train()
    x = x.detach().requires_grad_(not first)

    def step():
        y = block(x)
        y.backward(torch.ones_like(y))
    ms = _clock(step, repeats)
    with torch.no_grad():
        return ms, block(x)


def profile(cfg, lab, repeats):
    """Rows of (part, ms per step, output shape) for one configuration's training step."""
    torch.manual_seed(0)
    model = build_model(cfg)
    g = torch.Generator().manual_seed(0)
    images = lab[:cfg.batch_size]
    rows = [("augment (crop, flip)", _clock(lambda: random_resized_crop(images, g), repeats),
             tuple(images.shape))]
    x = images[:, :1].contiguous(memory_format=torch.channels_last)
    for i, (name, modules) in enumerate(_blocks(model)):
        if model.skips != "none":
            break                                       # blocks of a plain chain only
        ms, x = _block_time(modules, x, repeats, first=i == 0)
        rows.append((f"{name}: {type(modules[0]).__name__}", ms, tuple(x.shape)))
    out = model(images[:, :1].contiguous(memory_format=torch.channels_last)).detach()
    out.requires_grad_()
    rows.append(("loss (+ backward)", _clock(
        lambda: loss_fn(model, out, images[:, 1:]).backward(), repeats), ()))
    opt = build_optimizer(cfg, model)
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    rows.append(("optimizer step", _clock(opt.step, repeats), ()))
    return rows


def whole_step(cfg, lab):
    """A function running one whole training step of `cfg`'s model on the first batch of `lab`."""
    torch.manual_seed(0)
    model = build_model(cfg)
    opt = build_optimizer(cfg, model)
    g = torch.Generator().manual_seed(0)
    images = lab[:cfg.batch_size]

    def step():
        L = random_resized_crop(images, g)
        with autocast_for(cfg, torch.device("cpu")):
            loss = loss_fn(model, model(L[:, :1].contiguous(memory_format=torch.channels_last)),
                           L[:, 1:])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return step


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--configs", nargs="+", default=["default"], type=config_name)
    p.add_argument("--repeats", type=int, default=20, help="calls per timing")
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds of whole steps")
    p.add_argument("--name", default="step_profile")
    args = p.parse_args(argv)
    train, _ = train_split()
    m = machine()
    md = [f"Milliseconds per training step at each configuration's batch size, each part timed "
          f"alone ({args.repeats} repeats); {m['date']}; {m['cores']} cores ({m['cpu']}), "
          f"torch {m['torch']}; "
          f"`{command('benchmarks.step_profile', argv)}`", ""]
    result = {"machine": m, "configs": {}}
    for name in args.configs:
        rows = profile(config(name), train.lab, args.repeats)
        total = sum(ms for _, ms, _ in rows)
        table = [{"part": part, "ms": f"{ms:.1f}", "share": f"{ms / total:.0%}",
                  "output": "x".join(map(str, shape[1:])) or "-"} for part, ms, shape in rows]
        table.append({"part": "sum of the parts", "ms": f"{total:.1f}", "share": "100%",
                      "output": "-"})
        md += [f"**{name}**", "", markdown_table(table, ["part", "ms", "share", "output"],
                                                 numeric_right=True), ""]
        result["configs"][name] = {"parts": [{"part": p_, "ms": ms, "shape": s}
                                             for p_, ms, s in rows]}
        print(md[-2], flush=True)
    steps = {name: whole_step(config(name), train.lab) for name in args.configs}
    times = {name: [] for name in args.configs}
    for _ in range(args.rounds):
        for name, step in steps.items():
            times[name].append(_clock(step, args.repeats))
    per_image = {name: statistics.median(t) / config(name).batch_size for name, t in times.items()}
    first = per_image[args.configs[0]]
    table = [{"configuration": name, "batch": config(name).batch_size,
              "ms per step": f"{statistics.median(t):.1f}",
              "ms per image": f"{per_image[name]:.3f}",
              "time ratio": f"{per_image[name] / first:.3f}"} for name, t in times.items()]
    for name, t in times.items():
        result["configs"][name] |= {"whole_ms": statistics.median(t), "rounds_ms": t,
                                    "ms_per_image": per_image[name],
                                    "time_ratio": per_image[name] / first}
    md += [f"**Whole steps** (median of {args.rounds} interleaved rounds of {args.repeats}; "
           f"time ratio: per training image, against {args.configs[0]})", "",
           markdown_table(table, ["configuration", "batch", "ms per step", "ms per image",
                                  "time ratio"], numeric_right=True)]
    print("\n".join(md[-3:]), flush=True)
    write_result(args.name, result, "\n".join(md))


if __name__ == "__main__":
    main()
