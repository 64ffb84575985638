"""Command line: train, evaluate and colorize."""

import argparse
import json
import sys

from .config import ARCHS, HEADS, MODELS, ColorizerError, Config
from .data import load_images
from .metrics import UNITS
from .train import evaluate, fit, load_model


def _widths(text):
    return tuple(int(w) for w in text.split(","))


def build_parser():
    p = argparse.ArgumentParser(prog="python -m colorizer", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    d = Config()
    t = sub.add_parser("train", help="train a model on the seeded split; write a run folder")
    t.add_argument("--model", choices=MODELS, default=d.model)
    t.add_argument("--head", choices=HEADS, default=d.head)
    t.add_argument("--arch", type=int, choices=sorted(ARCHS), default=2,
                   help="width preset: 1 = %s, 2 = %s" % (ARCHS[1], ARCHS[2]))
    t.add_argument("--no-rebalance", action="store_true",
                   help="classify head: no class rebalancing (plain soft cross-entropy)")
    t.add_argument("--temperature", type=float, default=d.temperature,
                   help="classify head: annealed-mean temperature (T -> 0: mode, 1: mean)")
    t.add_argument("--widths", type=_widths, help="comma-separated widths, instead of --arch")
    t.add_argument("--activation", default=d.activation, choices=("relu", "leaky_relu", "gelu"))
    t.add_argument("--epochs", type=int, default=d.epochs)
    t.add_argument("--lr", type=float, default=d.lr)
    t.add_argument("--weight-decay", type=float, default=d.weight_decay)
    t.add_argument("--batch-size", type=int, default=d.batch_size)
    t.add_argument("--augment-factor", type=int, default=d.augment_factor,
                   help="augmented passes over the training split per epoch")
    t.add_argument("--seed", type=int, default=d.seed)
    t.add_argument("--limit", type=int, help="use only the first N images, for quick runs")
    t.add_argument("--data", help="image folder (default: $COLORIZER_DATA, then ./face_images)")
    t.add_argument("--out", help="run folder (default: runs/<model>_<head>_arch<N>)")
    t.add_argument("--resume", action="store_true", help="continue the run in --out")
    t.add_argument("--device", default=d.device, help="auto (CUDA if present), cpu, cuda, ...")
    t.add_argument("--no-progress", action="store_true", help="no progress bars")

    e = sub.add_parser("evaluate", help="test metrics of a checkpoint on its own test split")
    e.add_argument("--checkpoint", required=True)
    e.add_argument("--data", help="image folder (default: the checkpoint's, $COLORIZER_DATA, ...)")
    e.add_argument("--device", default="auto")
    e.add_argument("--temperature", type=float, help="classify head: annealed-mean temperature")
    e.add_argument("--json", action="store_true", help="one JSON object on stdout, nothing else")

    c = sub.add_parser("colorize", help="colorize images of any size, keeping their own L*")
    c.add_argument("--checkpoint", required=True)
    c.add_argument("inputs", nargs="+", metavar="IMAGE_OR_FOLDER")
    c.add_argument("--out", required=True, help="folder for the colorized PNGs")
    c.add_argument("--device", default="auto")
    c.add_argument("--temperature", type=float, help="classify head: annealed-mean temperature")
    return p


def _load(args):
    from .config import get_device

    model, ckpt = load_model(args.checkpoint, get_device(args.device))
    if args.temperature is not None:
        if model.head != "classify":
            raise ColorizerError(f"--temperature is for the classify head; this checkpoint has a "
                                 f"{model.head} head")
        if args.temperature <= 0:
            raise ColorizerError("--temperature must be positive")
        model.temperature = args.temperature
    return model, ckpt


def cmd_train(args):
    widths = args.widths or ARCHS[args.arch]
    cfg = Config(model=args.model, head=args.head, widths=widths, activation=args.activation,
                 epochs=args.epochs, lr=args.lr, weight_decay=args.weight_decay,
                 batch_size=args.batch_size, augment_factor=args.augment_factor, seed=args.seed,
                 limit=args.limit, data=args.data, device=args.device,
                 rebalance=not args.no_rebalance, temperature=args.temperature,
                 image_size=2 ** (len(widths) + 1))
    out = args.out or f"runs/{args.model}_{args.head}_arch{args.arch if not args.widths else 'x'}"
    run = fit(cfg, out, progress=not args.no_progress and sys.stderr.isatty(), resume=args.resume)
    key = "mean_ab_mse" if cfg.model == "regressor" else "ab_mse"
    print(f"test {key} {run.metrics[key]:.2f} raw CIELAB units^2 on {run.metrics['n_test']} test "
          f"images (seed {cfg.seed}); run folder {out}")
    return 0


def cmd_evaluate(args):
    model, ckpt = _load(args)
    cfg = Config.from_dict(ckpt["config"])
    data_dir = args.data or cfg.data
    test = load_images(data_dir, cfg.image_size, names=ckpt["split"]["test"])
    train_mean = ckpt.get("train_ab_mean")
    if train_mean is None:      # an older checkpoint: measure it on its training split
        train = load_images(data_dir, cfg.image_size, names=ckpt["split"]["train"])
        train_mean = train.ab.mean(dim=(0, 2, 3)).tolist()
    metrics = {"checkpoint": str(args.checkpoint), "model": cfg.model, "head": cfg.head,
               "widths": list(cfg.widths), "epoch": ckpt.get("epoch"), "split": "test",
               **({"temperature": model.temperature, "rebalance": cfg.rebalance}
                  if cfg.head == "classify" else {}),
               "seed": ckpt["split"]["seed"], "n_test": len(test),
               **evaluate(model, test.lab, train_mean=train_mean), "units": UNITS}
    if args.json:
        print(json.dumps(metrics))
    else:
        print(format_report(metrics))
    return 0


def format_report(metrics):
    """A readable table: the model's metrics next to the baselines', with units."""
    base = metrics["baselines"]
    keys = [k for k in UNITS if k in metrics and k != "loss"]
    lines = [f"{metrics['model']} / {metrics['head']}, widths {tuple(metrics['widths'])}, epoch "
             f"{metrics['epoch']}: {metrics['n_test']} test images (split seed {metrics['seed']})",
             "",
             f"{'metric':<20}{'model':>10}" + "".join(f"{b:>19}" for b in base)]
    for k in keys:
        lines.append(f"{k:<20}{metrics[k]:>10.3f}"
                     + "".join(f"{base[b].get(k, float('nan')):>19.3f}" for b in base))
    lines += ["", "units: " + "; ".join(f"{k}: {UNITS[k]}" for k in keys),
              "oracle_image_mean paints each test image's own mean a*b*: it sees the answer."
              if "oracle_image_mean" in base else ""]
    return "\n".join(lines).rstrip()


def cmd_colorize(args):
    from .colorize import colorize_paths

    model, ckpt = _load(args)
    size = ckpt["config"]["image_size"]
    failed = 0
    for path, result in colorize_paths(model, args.inputs, args.out, size):
        if isinstance(result, ColorizerError):
            failed += 1
            print(f"colorizer: error: {result}", file=sys.stderr)
        else:
            print(f"{path} -> {result}")
    return 1 if failed else 0


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return {"train": cmd_train, "evaluate": cmd_evaluate, "colorize": cmd_colorize}[
            args.command](args)
    except ColorizerError as e:
        print(f"colorizer: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("colorizer: interrupted", file=sys.stderr)
        return 130
