"""Command line: train, evaluate, colorize, export (a model folder, or ONNX), a web demo, and
cache a folder of images.

A serving or scale module is imported inside the command that needs it, so that `train` loads
the core alone."""

import argparse
import json
import sys
import typing
from dataclasses import MISSING, fields, replace
from pathlib import Path

import torch
from tqdm import tqdm

from .checkpoint import CHECKPOINT, MODEL_FILE, load_checkpoint, load_model
from .config import (
    ARCHS,
    PRESETS,
    ColorizerError,
    Config,
    DemoLimits,
    option_words,
    preset,
    read_settings_file,
)
from .console import LOUD, QUIET, Reporter, TensorBoard
from .data import (
    MAX_PIXELS,
    ab_mean,
    load_images,
    open_images,
    read_image,
    resolve_data_dir,
    set_pixel_limit,
)
from .devices import get_device, use_tf32
from .evaluation import PLAIN, TTA, TTA_DEFAULT, evaluate, format_report
from .metrics import HEADLINE
from .models import head
from .train import fit, launched


def _numbers(kind):
    """A comma-separated list of `kind`, for the tuple settings."""
    def parse(text):
        try:
            return tuple(kind(v) for v in text.split(","))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected comma-separated numbers, got {text!r}") from None
    return parse


def add_config_options(parser):
    """One option per Config field (but those set in a settings file alone: file_only), its type,
    default, help and choices taken from the field."""
    for f in fields(Config):
        if not f.metadata.get("file_only"):
            add_setting(parser, f.name)


def add_setting(parser, name, default=None, help=None):
    """The option of Config field `name` (a command other than train passes `default` where it
    has one of its own, and `help` where the setting means more there)."""
    f = next(f for f in fields(Config) if f.name == name)
    kw = {"help": help or _help(name), "default": default}
    if "choices" in f.metadata:
        kw["choices"] = f.metadata["choices"]
    if "metavar" in f.metadata:
        kw["metavar"] = f.metadata["metavar"]
    kind = typing.get_args(f.type)[0] if typing.get_origin(f.type) else f.type
    if kind is bool:
        kw["action"] = argparse.BooleanOptionalAction
    elif kind is tuple:
        kw["type"] = _numbers(type(f.default[0]) if f.default is not MISSING else float)
    else:
        kw["type"] = kind
    shown = default if default is not None or help else f.default   # (its own help: its own)
    if shown is not None and not kw.get("action"):
        kw["help"] += f" [{_show(shown)}]"
    parser.add_argument("--" + name.replace("_", "-"), **kw)


def _show(value):
    return ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value) \
        if isinstance(value, tuple) else value


def config_from_args(args):
    """The Config the options describe: given options over the settings file or the preset, if
    any, over the defaults (--arch picks widths)."""
    given = {f.name: getattr(args, f.name) for f in fields(Config)
             if getattr(args, f.name, None) is not None}
    if args.arch is not None:
        if "widths" in given:
            raise ColorizerError("give --arch or --widths, not both")
        given["widths"] = ARCHS[args.arch]
    if getattr(args, "config", None) and args.preset:
        raise ColorizerError("give --config or --preset, not both")
    if "minutes" in given and "epochs" in given:
        raise ColorizerError("give --epochs or --minutes, not both (--minutes plans the epochs)")
    base = read_settings(args.config) if getattr(args, "config", None) else PRESETS.get(
        args.preset, {})
    return Config(**{**base, **given})


def read_settings(path):
    """The settings of a JSON or TOML file ({name: value}, Config's names: a run folder's
    config.json, or a file of your own), or one line on what is wrong with it."""
    settings = read_settings_file(path, f"--config {path}")
    if not isinstance(settings, dict):
        raise ColorizerError(f"--config {path}: expected a table of settings")
    unknown = sorted(set(settings) - {f.name for f in fields(Config)})
    if unknown:
        raise ColorizerError(f"--config {path}: no such setting: {', '.join(unknown)}")
    return settings


def build_parser():
    p = argparse.ArgumentParser(prog="python -m colorizer", description=__doc__.split("\n\n")[0])
    commands = p.add_subparsers(dest="command", required=True)
    _add_train(commands)
    _add_evaluate(commands)
    _add_colorize(commands)
    _add_export(commands)
    _add_onnx(commands)
    _add_demo(commands)
    _add_cache(commands)
    return p


def _add_train(commands):
    train = commands.add_parser(
        "train", help="train a model on the seeded split; write a run folder",
        usage="python -m colorizer train [--preset NAME | --config FILE] [OPTION ...]",
        formatter_class=_OneLine, epilog="presets (each the options it sets over the defaults):\n"
        + "\n".join(f"  {name:<14}{option_words(preset(name), Config())}" for name in PRESETS))
    train.add_argument("--preset", metavar="NAME", choices=sorted(PRESETS),
                       help="start from a named configuration (below)")
    train.add_argument("--config", metavar="FILE", help="settings from JSON / TOML (a run's "
                       "config.json runs it again)")
    train.add_argument("--arch", type=int, choices=sorted(ARCHS),
                       help="the study's widths: " + ", ".join(
                           f"{k} = {v[0]}..{v[-1]}" for k, v in ARCHS.items()))
    add_config_options(train)
    train.add_argument("--out", metavar="DIR", help="run folder (default: runs/MODEL_HEAD_archN)")
    train.add_argument("--resume", action="store_true", help="continue the run in --out")
    train.add_argument("--no-progress", action="store_true", help="no progress bars")
    train.add_argument("--tensorboard", action="store_true", help="also log for TensorBoard "
                       "(RUN/tensorboard)")
    _add_tf32_option(train)


class _OneLine(argparse.RawDescriptionHelpFormatter):
    """Help with each option on one line where it fits, and the epilog as written."""

    def __init__(self, prog):
        super().__init__(prog, max_help_position=32, width=104)


def _add_evaluate(commands):
    evaluate = commands.add_parser("evaluate", help="test metrics of a checkpoint on its own test "
                                   "split")
    evaluate.add_argument("--checkpoint", help="a run's checkpoint.pt or a model folder "
                          "(default: the shipped model)")
    evaluate.add_argument("--data", help="image folder (default: the checkpoint's, "
                          "$COLORIZER_DATA, ...)")
    add_setting(evaluate, "device", default="auto")
    add_setting(evaluate, "temperature", help="classify: annealed-mean temperature [the model's]")
    _add_tta_option(evaluate)
    evaluate.add_argument("--json", action="store_true",
                          help="one JSON object on stdout, nothing else")
    _add_tf32_option(evaluate)


def _add_colorize(commands):
    colorize = commands.add_parser("colorize", help="colorize images of any size, keeping their "
                                   "own L*; never replaces an input")
    which = colorize.add_mutually_exclusive_group()
    which.add_argument("--checkpoint", help="a run's checkpoint.pt or a model folder (default: "
                       "the shipped model)")
    which.add_argument("--onnx", metavar="FILE", help="an exported model (python -m colorizer "
                       "onnx), run by onnxruntime on the CPU")
    colorize.add_argument("inputs", nargs="+", metavar="IMAGE_OR_FOLDER",
                          help="image files, and folders searched through their subfolders")
    colorize.add_argument("--out", required=True, help="folder for the colorized PNGs, which "
                          "keep the inputs' folder structure (p.jpg -> p.png; p.jpg.png where "
                          "names clash)")
    colorize.add_argument("--overwrite", action="store_true",
                          help="replace outputs already in --out (default: keep them)")
    colorize.add_argument("--compare", action="store_true", help="write grayscale | colorized | "
                          "original (when it has colour) side by side")
    colorize.add_argument("--max-pixels", type=_pixel_count, default=MAX_PIXELS, metavar="N",
                          help="refuse images of more pixels than this, from their headers, "
                          "before decoding (memory grows with pixels; default: %(default)s)")
    colorize.add_argument("--saturation", type=_saturation, default=1.0, metavar="S",
                          help="a gain on the predicted a*b* before conversion, clipped to the "
                          "sRGB gamut (default: 1, as predicted; 1.5: more colour)")
    colorize.add_argument("--no-metadata", action="store_true",
                          help="write bare PNGs: no text saying they are colorized, no ICC "
                          "profile or EXIF of the input")
    colorize.add_argument("--hint", action="append", default=[], metavar="X,Y,COLOUR",
                          help="a colour hint at pixel X,Y of the one image given: #rrggbb or "
                          "a*,b* (repeat for more points)")
    colorize.add_argument("--hints", metavar="FILE.json", help="colour hints from a file: a list "
                          "of [x, y, colour] for the one image given, or {image path: list} "
                          "(paths as given, or inside a folder given)")
    add_setting(colorize, "device", default="auto")
    add_setting(colorize, "temperature", help="classify: annealed-mean temperature [the model's]")
    _add_tta_option(colorize)
    colorize.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_tf32_option(colorize)


def _saturation(text):
    try:
        s = float(text)
    except ValueError:
        s = -1.0
    if not 0 <= s <= 10:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 10, got {text!r}")
    return s


def _pixel_count(text):
    try:
        n = int(float(text))
    except (ValueError, OverflowError):             # inf, 1e400
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number of pixels, got {text!r}")
    return n


def _add_export(commands):
    export = commands.add_parser("export", help="a run's colorizer as a model folder (int8 "
                                 "weights, config.json, a card) that from_pretrained loads")
    export.add_argument("run", nargs="?", metavar="RUN_DIR", help="the run folder (its "
                        "checkpoint.pt), or give --checkpoint")
    export.add_argument("--checkpoint", help="the run's checkpoint.pt")
    export.add_argument("--out", metavar="DIR", required=True, help="the model folder to write")
    export.add_argument("--data", help="image folder (default: the checkpoint's, then "
                        "./face_images)")


def _add_onnx(commands):
    onnx = commands.add_parser("onnx", help="export a colorizer to ONNX (raw L* in, raw a*b* out, "
                               "dynamic batch)")
    onnx.add_argument("out", metavar="OUT.onnx")
    onnx.add_argument("--checkpoint", help="a run's checkpoint.pt or a model folder (default: "
                      "the shipped model)")


def _add_demo(commands):
    demo = commands.add_parser("demo", help="a web demo on 127.0.0.1 (Gradio: pip install -e "
                               "\".[demo]\")")
    demo.add_argument("--port", type=int, default=7860, help="(default: %(default)s)")
    demo.add_argument("--checkpoint", action="append", default=[], metavar="CHECKPOINT",
                      help="a run's checkpoint.pt offered beside the shipped model "
                      "(repeatable; visitors choose among these by name, never by path)")
    demo.add_argument("--host", default="127.0.0.1", help="address to listen on (default: "
                      "%(default)s, this machine only; any other is said aloud)")
    demo.add_argument("--share", action="store_true",
                      help="also open a public Gradio link (needs --auth; default: off)")
    demo.add_argument("--auth", metavar="USER:PASSWORD", help="ask visitors for this login")
    limits = DemoLimits()
    demo.add_argument("--max-file-mb", type=float, default=limits.max_file_mb,
                      help="largest upload per file (default: %(default)s)")
    demo.add_argument("--max-pixels", type=_pixel_count, default=limits.max_pixels,
                      metavar="N", help="largest image, in pixels (default: %(default)s)")
    demo.add_argument("--max-files", type=int, default=limits.max_files,
                      help="photos per request (default: %(default)s)")


def _add_cache(commands):
    cache = commands.add_parser("cache", help="decode a folder into its on-disk cache now "
                                "(train --cache on does it when needed)")
    add_setting(cache, "data")
    add_setting(cache, "image_size", default=Config().image_size, help="side in px")
    cache.add_argument("--cache-dir", metavar="DIR", help="the cache's folder "
                       "[$COLORIZER_CACHE, ~/.cache/colorizer]")
    cache.add_argument("--workers", type=int, help="decoding processes (default: one per core)")


def _add_tf32_option(parser):
    parser.add_argument("--tf32", action="store_true", help="CUDA: float32 convolutions and "
                        "products in TF32 (faster, ~1e-3 relative error)")


def _add_tta_option(parser):
    parser.add_argument("--tta", choices=TTA, default=TTA_DEFAULT,
                        help="test-time augmentation: flip averages the prediction with the "
                        "mirrored image's (default: %(default)s)")


def _help(name):
    """A Config field's help text as argparse reads it (a literal % doubled: "10 %" is not a
    format)."""
    return next(f.metadata["help"] for f in fields(Config) if f.name == name).replace("%", "%%")


def _weights(args):
    """The weights a command reads: --checkpoint, or the shipped model's."""
    from .serving.pretrained import shipped_weights

    return args.checkpoint or shipped_weights()


def _load(args):
    model, ckpt = load_model(_weights(args), get_device(args.device))
    if args.temperature is not None:
        if not head(model.head).decodes_at_temperature:
            raise ColorizerError(f"--temperature is for the classify head; this checkpoint has a "
                                 f"{model.head} head")
        if args.temperature <= 0:
            raise ColorizerError("--temperature must be positive")
        model.temperature = args.temperature
    return model, ckpt


def cmd_train(args):
    cfg = config_from_args(args)
    arch = next((k for k, w in ARCHS.items() if w == cfg.widths), "x")
    out = Path(args.out or f"runs/{cfg.model}_{cfg.head}_arch{arch}")
    if out.is_file():
        raise ColorizerError(f"--out takes a folder; {out} is a file")
    if args.resume and args.epochs is None:     # continue the run as it was planned
        cfg = replace(cfg, epochs=load_checkpoint(out / CHECKPOINT)["config"]["epochs"])
    report = Reporter(progress=not args.no_progress and sys.stderr.isatty(),
                      tracker=TensorBoard(out / "tensorboard") if args.tensorboard else None)
    run = fit(cfg, out, resume=args.resume, report=report)
    if run.metrics:                     # (a torchrun launch: rank 0 alone reports)
        key, m = HEADLINE[cfg.model], run.metrics
        scored = [m, *([m["test"]] if "test" in m else [])]   # validation, then test beside it
        print("; ".join(f"{s['split']} {key} {s[key]:.2f} raw CIELAB units^2 on {s['n_test']} "
                        f"{s['split']} images" for s in scored)
              + f" (seed {run.cfg.seed}); run folder {out}")
    del run                             # (with it DDP's hooks on the model: see finish)
    if launched():
        from .scale.distributed import finish

        finish()
    return 0


def cmd_evaluate(args):
    model, ckpt = _load(args)
    cfg = Config.from_dict(ckpt["config"])
    cfg = replace(cfg, data=args.data or cfg.data)
    test = open_images(cfg, names=ckpt["split"]["test"],
                       report=QUIET if args.json else LOUD)
    train_mean = ckpt.get("train_ab_mean")
    if train_mean is None:      # an older checkpoint: measure it on its training split
        train_mean = ab_mean(open_images(cfg, names=ckpt["split"]["train"]))
    metrics = {"checkpoint": str(_weights(args)), "model": cfg.model, "head": cfg.head,
               "widths": list(cfg.widths), "epoch": ckpt.get("epoch"), "split": "test",
               **({"temperature": model.temperature, "rebalance": cfg.rebalance}
                  if head(cfg.head).decodes_at_temperature else {}),
               "seed": ckpt["split"]["seed"], "n_test": len(test), "tta": args.tta,
               **evaluate(model, test.lab, train_mean=train_mean, tta=args.tta)}
    print(json.dumps(metrics) if args.json else format_report(metrics))
    return 0


def cmd_colorize(args):
    from .colorize import Options, colorize_paths
    from .serving.deploy import OnnxColorizer

    if args.onnx and args.temperature is not None:
        raise ColorizerError("--temperature is fixed in an exported model: export it again")
    set_pixel_limit(max(MAX_PIXELS, args.max_pixels))
    hints = _hints_of(args)                 # every point checked before anything is read
    model = OnnxColorizer(args.onnx) if args.onnx else _load(args)[0]
    if hints and not (model.takes_hints if args.onnx else model.kind == "colorizer"):
        raise ColorizerError(f"{args.onnx or args.checkpoint} is a regressor: it takes no "
                             "colour hints (it paints one colour)")
    counts = {"written": 0, "kept": 0, "failed": 0}
    options = Options(args.tta, args.saturation, args.overwrite, args.compare, args.max_pixels,
                      None if args.no_metadata else _model_name(args), hints)
    progress = False if args.no_progress else None
    for _, outcome in colorize_paths(model, args.inputs, args.out, options, progress):
        if isinstance(outcome, ColorizerError):
            counts["failed"] += 1
            tqdm.write(f"colorizer: error: {outcome}", file=sys.stderr)
        else:
            counts["kept" if outcome == "kept" else "written"] += 1
    kept = " (already there: --overwrite replaces them)" if counts["kept"] else ""
    print(f"{counts['written']} written, {counts['kept']} kept{kept}, {counts['failed']} failed; "
          f"output folder {args.out}")
    return 1 if counts["failed"] else 0


def _model_name(args):
    """The model an output names: the file given, or the shipped one with its checksum."""
    from .serving.pretrained import shipped_name

    return str(args.onnx or args.checkpoint or shipped_name())


def _hints_of(args):
    """{input file, resolved: [Hint]} from --hint and --hints (None without either), each point
    checked against its image's size: a bad point, colour, file or name is one line."""
    from .hints import Hint, check

    if not args.hint and not args.hints:
        return None
    given = {}
    if args.hint:
        given[_one_image(args, "--hint")] = [Hint.parse(t) for t in args.hint]
    if args.hints:
        listed = read_settings_file(args.hints, f"--hints {args.hints}")
        if isinstance(listed, dict):
            for name, points in listed.items():
                given.setdefault(_input_named(args.inputs, name), []).extend(_points(points))
        else:
            given.setdefault(_one_image(args, "a hint file's list"), []).extend(_points(listed))
    for path, points in given.items():
        check(points, read_image(path, args.max_pixels).shape[:2])
    return given


def _points(listed):
    from .hints import Hint

    if not isinstance(listed, list):
        raise ColorizerError(f"--hints: expected a list of [x, y, colour], got {listed!r:.60}")
    return [Hint.of(p) for p in listed]


def _one_image(args, what):
    """The one image file given, resolved, for hints that name no file."""
    if len(args.inputs) != 1 or not Path(args.inputs[0]).is_file():
        raise ColorizerError(f"{what} is for one image file; for several, give --hints FILE.json "
                             "mapping each image's path to its list")
    return Path(args.inputs[0]).resolve()


def _input_named(inputs, name):
    """The file a hint file names: a path as given, or one inside a folder given."""
    for base in ("", *[p for p in inputs if Path(p).is_dir()]):
        path = Path(base) / name
        if path.is_file() and (base or str(name) in inputs):
            return path.resolve()
    raise ColorizerError(f"--hints names {name!r}, which is not an image given or inside a "
                         "folder given")


def cmd_export(args):
    if bool(args.run) == bool(args.checkpoint):
        raise ColorizerError("give a RUN_DIR or --checkpoint FILE (one of them)")
    checkpoint = args.checkpoint or Path(args.run) / CHECKPOINT
    ckpt = load_checkpoint(checkpoint)
    model, _ = load_model(checkpoint, "cpu")
    if model.kind != "colorizer":
        raise ColorizerError(f"export writes a colorizer; this checkpoint holds a {model.kind}")
    facts = {k: ckpt[k] for k in ("split", "train_ab_mean", "epoch", "history") if k in ckpt}
    from .serving.hub import save_pretrained

    folder = save_pretrained(model, args.out, facts)
    shipped, _ = load_model(folder / MODEL_FILE, "cpu")
    cfg = Config.from_dict(ckpt["config"])
    test = load_images(resolve_data_dir(args.data or cfg.data), cfg.image_size,
                       names=ckpt["split"]["test"])
    m = evaluate(shipped, test.lab, train_mean=ckpt["train_ab_mean"], tta=PLAIN)
    weights = folder / MODEL_FILE
    print(f"exported {weights} ({weights.stat().st_size / 2**20:.2f} MiB, int8): test ab_mse "
          f"{m['ab_mse']:.3f} raw CIELAB units^2, PSNR {m['psnr']:.2f} dB; load it with "
          f"colorizer.from_pretrained({str(folder)!r})")
    return 0


def cmd_onnx(args):
    from .serving.deploy import OPSET, export_onnx

    model, ckpt = load_model(_weights(args), torch.device("cpu"))
    try:
        export_onnx(model, args.out, ckpt["config"])
    except ImportError:
        raise ColorizerError("the ONNX export needs onnx: pip install -e \".[onnx]\"") from None
    except OSError as e:
        raise ColorizerError(f"cannot write {args.out}: {e.strerror or e}") from None
    print(f"exported {_weights(args)} to {args.out} "
          f"({Path(args.out).stat().st_size / 2**20:.2f} MiB, opset {OPSET}, dynamic batch)")
    return 0


def cmd_demo(args):
    from .serving.demo import gradio, serve

    gradio()                            # one line on how to install it, before anything else
    limits = DemoLimits(args.max_file_mb, args.max_pixels, args.max_files)
    if min(limits.max_file_mb, limits.max_files) <= 0:
        raise ColorizerError("--max-file-mb and --max-files take positive numbers")
    print(f"colorizer demo on http://{args.host}:{args.port} (Ctrl+C stops it)")
    serve(args.port, args.checkpoint, args.host, args.share, args.auth, limits)
    return 0


def cmd_cache(args):
    if args.image_size < 2:
        raise ColorizerError(f"--image-size takes a whole number >= 2; got {args.image_size}")
    from .scale.cache import cached_images

    images = cached_images(args.data, args.image_size, args.cache_dir, args.workers,
                           Reporter(progress=sys.stderr.isatty()))
    lab = images.lab
    print(f"{len(images)} images of {args.image_size} px cached in {lab.path.parent} "
          f"({lab.path.stat().st_size / 2**30:.2f} GiB); {len(images.skipped)} unreadable "
          "file(s) skipped")
    return 0


def main(argv=None):
    args = build_parser().parse_args(argv)
    use_tf32(getattr(args, "tf32", False))           # the process's policy, before any device
    try:
        return {"train": cmd_train, "evaluate": cmd_evaluate, "colorize": cmd_colorize,
                "export": cmd_export, "onnx": cmd_onnx, "demo": cmd_demo,
                "cache": cmd_cache}[args.command](args)
    except ColorizerError as e:
        print(f"colorizer: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("colorizer: interrupted", file=sys.stderr)
        return 130
