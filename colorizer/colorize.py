"""Colorize image files of any size with a trained model, keeping each input's own L*.

No input is ever replaced and no two inputs share an output: every output path is planned, and
checked against every input, before the first image is read.
"""

import os
import struct
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from PIL.PngImagePlugin import PngInfo
from tqdm import tqdm

from .config import ColorizerError
from .data import (
    MAX_PIXELS,
    candidate_files,
    image_pixels,
    lab_to_rgb,
    lightness,
    quiet_exif,
    read_image,
    stripes,
)
from .evaluation import TTA_DEFAULT, predict
from .files import atomic_write
from .hints import maps as hint_maps
from .models import input_side

BATCH = 16                  # images per forward pass at most,
BATCH_PIXELS = 16_000_000   # and full-resolution pixels held at once (one larger photo: alone)
ORIENTATION = 0x0112        # the EXIF orientation tag


@dataclass(frozen=True)
class Job:
    """One input file and the output it is written to."""
    source: Path
    target: Path


def colorize_rgb(model, rgb: np.ndarray, tta: str = TTA_DEFAULT, saturation: float = 1.0,
                 hints=None) -> np.ndarray:
    """(H, W, 3) uint8 -> (H, W, 3) uint8 with the input's L* and predicted a*b*; `model` is a
    torch model or a serving.deploy.OnnxColorizer, here and below. `hints`: colour hints for a model
    that takes them, colorizer.hints.Hint points (or (x, y, colour) items: "#rrggbb" or
    (a*, b*)) in the photo's own pixels."""
    return colorize_batch(model, [rgb], tta, saturation, None if hints is None else [hints])[0]


def colorize_batch(model, images: list[np.ndarray], tta: str = TTA_DEFAULT,
                   saturation: float = 1.0, hints=None) -> list[np.ndarray]:
    """Colorize (H, W, 3) uint8 images of any sizes in one forward pass: each its own L*
    (`hints`: a list of points for each image, see colorize_rgb)."""
    Ls = [lightness(rgb) for rgb in images]
    return [paint(L, ab) for L, ab in zip(Ls, chroma(model, Ls, tta, saturation, hints))]


def chroma(model, Ls, tta=TTA_DEFAULT, saturation=1.0, hints=None):
    """The model's a*b* for full-resolution L* (1, 1, H, W) each, in one forward pass, at the
    model's side: (B, 2, s, s), or (B, 2) for a regressor; times `saturation`, a gain on a*b*
    (1: as predicted; above 1 more colour, the conversion clipping to the sRGB gamut). `hints`:
    None, or a list of points for each image in its own pixels, put on the model's grid.

    The model sees L* resized to its own side (models.input_side; antialiased, as torchvision's
    resize does it); only its a*b* is upsampled back (paint), so edges and detail come from the
    full-resolution L* (as in Zhang et al.'s inference).
    """
    size = input_side(model) if isinstance(model, torch.nn.Module) else model.side
    small = torch.cat([F.interpolate(L, size=(size, size), mode="bilinear", antialias=True,
                                     align_corners=False) for L in Ls])      # (B, 1, s, s)
    maps = None
    if hints is not None and any(len(h) for h in hints):
        maps = torch.cat([hint_maps(h, L.shape[-2:], (size, size)) for h, L in zip(hints, Ls)])
    ab = (predict(model, small, tta=tta, hints=maps) if isinstance(model, torch.nn.Module)
          else model.predict(small, tta, hints=maps))
    return ab * saturation if saturation != 1 else ab


def paint(L, ab):
    """L* (1, 1, H, W) with the model's a*b* for it (chroma's) upsampled bilinearly to its side:
    the colorized (H, W, 3) uint8 image, made a stripe of rows at a time (the full-side a*b* is
    never held: only L*, the output and one stripe are)."""
    H, W = L.shape[-2:]
    out = np.empty((H, W, 3), np.uint8)
    ab_rows = _upsampled_rows(ab, H, W)
    for rows in stripes((H, W)):
        out[rows] = lab_to_rgb(L[..., rows, :], ab_rows(rows))[0]
    return out


def _upsampled_rows(ab, H, W):
    """rows -> (1, 2, rows, W): those rows of `ab` (2, s, s) upsampled to (H, W) as
    F.interpolate(mode="bilinear", align_corners=False) does it (to float32 rounding), the
    width first, once, then each stripe's rows; a regressor's (2,) a*b* spread over the rows."""
    if ab.dim() == 1:
        return lambda rows: ab[None, :, None, None].expand(1, 2, len(range(H)[rows]), W)
    s = ab.shape[-2]
    wide = F.interpolate(ab[None], size=(s, W), mode="bilinear", align_corners=False)[0]
    y = torch.arange(H, dtype=torch.float32)
    src = ((y + 0.5) * (s / H) - 0.5).clamp(min=0)              # PyTorch's source coordinate
    low = src.long()
    high, w = (low + 1).clamp(max=s - 1), src - low
    return lambda rows: ((1 - w[rows, None]) * wide[:, low[rows]]
                         + w[rows, None] * wide[:, high[rows]])[None]


def comparison_strip(rgb, colorized, L=None):
    """grayscale | colorized | original (the last only when the input has colour), one image;
    `L`: the input's lightness, where it is at hand."""
    L = lightness(rgb) if L is None else L
    gray = lab_to_rgb(L, torch.zeros(1, 2, 1, 1).expand(1, 2, *L.shape[-2:]))[0]   # L* alone
    gray = np.repeat(gray.mean(-1, keepdims=True).round().astype(np.uint8), 3, axis=-1)
    panels = [gray, colorized]
    if not (rgb == rgb[..., :1]).all():
        panels.append(rgb)
    return np.concatenate(panels, axis=1)


def plan(inputs, out_dir):
    """(jobs, problems) for files and folders given on the command line.

    Folders are searched through their subfolders (hidden ones, and `out_dir` where it lies
    inside, left out). Outputs keep the inputs' folder structure below the folder that holds
    them all (one folder given: that folder itself) as PNGs; names that would clash keep their
    extension (p.jpg -> p.jpg.png, p.png -> p.png.png). `problems` are (path, ColorizerError) for
    inputs that cannot be colorized. An output that would land on an input is refused whole.
    """
    out_dir = _absolute(out_dir)
    found, resolved, problems = _find(inputs, out_dir)
    if not found:
        return [], problems
    base = Path(os.path.commonpath([str(root) for _, root in found]))
    jobs = _name_outputs([(path, path.relative_to(base)) for path, _ in found], out_dir)
    jobs, clashes = _one_input_per_output(jobs)
    _refuse_overwriting_inputs(jobs, resolved)
    return jobs, problems + clashes


def _absolute(path):
    """An absolute path, links left as they are (so the structure is the one the user sees)."""
    return Path(os.path.abspath(path))


def _find(inputs, out_dir):
    """[(file, root)] of every input file, each once, with the folder its output path is
    relative to; the set of their resolved paths; and [(path, ColorizerError)] for inputs that
    are missing, empty folders, or neither a regular file nor a folder (a FIFO would block the
    read forever, a device never end)."""
    found, problems, seen = [], [], set()
    for item in map(_absolute, inputs):
        if item.is_dir():
            files = [(p, item) for _, p in candidate_files(item)
                     if not (out_dir != item and out_dir in p.parents)]
            if not files:
                problems.append((item, ColorizerError(f"no files in folder {item}")))
        elif item.is_file():
            files = [(item, item.parent)]
        elif item.exists():
            problems.append((item, ColorizerError(f"not a regular file or folder: {item}")))
            continue
        else:
            problems.append((item, ColorizerError(f"no such file or folder: {item}")))
            continue
        for path, root in files:                        # (absolute: below an absolute item)
            real = path.resolve()
            if real not in seen:
                seen.add(real)
                found.append((path, root))
    return found, seen, problems


def _name_outputs(relative, out_dir):
    """Jobs writing each (source, path relative to the common folder) to out_dir, as PNG."""
    by_target = defaultdict(list)
    for source, rel in relative:
        by_target[rel.with_suffix(".png")].append((source, rel))
    jobs = []
    for target, group in by_target.items():
        for source, rel in group:
            name = target if len(group) == 1 else rel.with_name(rel.name + ".png")
            jobs.append(Job(source, out_dir / name))
    return sorted(jobs, key=lambda j: str(j.source))


def _one_input_per_output(jobs):
    """The jobs whose output no earlier job writes, and a problem for each of the others."""
    claimed, kept, clashes = {}, [], []
    for job in jobs:
        if job.target in claimed:
            clashes.append((job.source, ColorizerError(
                f"{job.source} would be written to {job.target}, as {claimed[job.target]} is: "
                "skipped (rename one of them)")))
        else:
            claimed[job.target] = job.source
            kept.append(job)
    return kept, clashes


def _refuse_overwriting_inputs(jobs, inputs):
    """One line, before anything is written, when an output path is an input's."""
    for job in jobs:
        if job.target.resolve() in inputs:
            raise ColorizerError(f"the output {job.target} would replace an input: nothing "
                                 "written (choose an --out folder apart from the inputs)")


def prepare_out_dir(out_dir):
    """Make `out_dir` or say in one line why it cannot hold the outputs."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ColorizerError(f"--out takes a folder; {out_dir} is a file")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ColorizerError(f"cannot make the output folder {out_dir}: "
                             f"{e.strerror or e}") from None
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise ColorizerError(f"cannot write in the output folder {out_dir}")
    return out_dir


@dataclass(frozen=True)
class Options:
    """How `colorize_paths` colorizes and writes: the decoding (`tta`, a `saturation` gain),
    whether it replaces outputs there already, writes grayscale | colorized | original strips
    (`compare`), refuses images over `max_pixels`, names `model_name` in each output, and the
    colour hints each file is given (`hints`)."""
    tta: str = TTA_DEFAULT
    saturation: float = 1.0
    overwrite: bool = False
    compare: bool = False
    max_pixels: int = MAX_PIXELS
    model_name: str | None = None
    hints: dict | None = None           # {input file, resolved: [Hint]} (colorizer.hints)


def colorize_paths(model, inputs, out_dir, options=None, progress=None, **settings):
    """Colorize every input file into `out_dir` (see plan); yields (input, outcome) with outcome
    the output Path written, "kept" (the output was there already and `overwrite` is off) or a
    ColorizerError. `options` (Options), or its fields as keywords.

    Memory follows the pixels, not the number of files: a batch holds at most BATCH_PIXELS of
    full-resolution L* (one larger photo goes alone), each image is read, converted and written
    on its own, and one of more than `max_pixels` is refused from its header.

    With `model_name` each output says in its PNG text that it is machine-colorized (by which
    model) and keeps its input's ICC profile and EXIF (see output_metadata); None: neither.
    """
    options = options or Options(**settings)
    out_dir = prepare_out_dir(out_dir)
    jobs, problems = plan(inputs, out_dir)
    yield from problems
    # progress None: a bar when stderr is a terminal (tqdm's own test)
    with tqdm(total=len(jobs), desc="colorize", unit="img", leave=False,
              disable=None if progress is None else not progress) as bar:
        for batch in _pixel_batches(jobs):
            yield from _colorize_jobs(model, batch, options)
            bar.update(len(batch))


def _pixel_batches(jobs):
    """The jobs in order, cut into batches of at most BATCH images and BATCH_PIXELS pixels (by
    their headers; a batch holds one image at least)."""
    batch, held = [], 0
    for job in jobs:
        pixels = image_pixels(job.source)
        if batch and (len(batch) == BATCH or held + pixels > BATCH_PIXELS):
            yield batch
            batch, held = [], 0
        batch.append(job)
        held += pixels
    if batch:
        yield batch


def _colorize_jobs(model, jobs, options):
    """(source, outcome) for a batch of jobs: the readable images' L* in one forward pass, each
    then painted and written on its own (only L*, and the input itself for `compare`, kept)."""
    o = options
    todo = []
    for job in jobs:
        if job.target.exists() and not o.overwrite:
            yield job.source, "kept"
            continue
        try:
            rgb = read_image(job.source, o.max_pixels)
        except ColorizerError as e:
            yield job.source, e
            continue
        todo.append((job, lightness(rgb), rgb if o.compare else None))
        del rgb
    if not todo:
        return
    hints = None if not o.hints else [o.hints.get(job.source.resolve(), [])
                                      for job, _, _ in todo]
    predicted = chroma(model, [L for _, L, _ in todo], o.tta, o.saturation, hints)
    for i, ab in enumerate(predicted):
        job, L, rgb = todo[i]
        todo[i] = None                                  # what is written is let go
        colorized = paint(L, ab)
        picture = comparison_strip(rgb, colorized, L) if o.compare else colorized
        del L, colorized
        extra = {} if o.model_name is None else output_metadata(job.source, o.model_name)
        yield job.source, _write(job.target, picture, extra)


def output_metadata(source, model_name):
    """Pillow's PNG save options for an output of `source`: text chunks saying it was colorized
    by a machine (`Software`, `Description`: nothing hides it), and the input's ICC profile and
    EXIF where it has them (the orientation, applied on reading, reset to upright)."""
    from . import __version__

    text = PngInfo()
    text.add_text("Software", f"colorizer {__version__}")
    text.add_text("Description", f"colorized by colorizer {__version__}, model {model_name}: "
                  "the a*b* chroma is predicted from the lightness, not the original colours")
    extra = {"pnginfo": text}
    try:
        with quiet_exif(), Image.open(source) as img:
            if img.info.get("icc_profile"):
                extra["icc_profile"] = img.info["icc_profile"]
            exif = img.getexif()
            if exif:
                if ORIENTATION in exif:
                    exif[ORIENTATION] = 1
                extra["exif"] = exif.tobytes()
    except (OSError, ValueError, SyntaxError, struct.error):    # a malformed block: left out
        extra.pop("exif", None)
    return extra


def _write(target, picture, extra=None):
    """The PNG written at `target` (atomically, with Pillow's save options `extra`), or a
    ColorizerError saying why not."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(target, lambda tmp: Image.fromarray(picture).save(tmp, "PNG",
                                                                       **(extra or {})))
    except OSError as e:
        return ColorizerError(f"cannot write {target}: {e.strerror or e}")
    return target
