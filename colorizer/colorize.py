"""Colorize image files of any size with a trained model, keeping each input's own L*.

No input is ever replaced and no two inputs share an output: every output path is planned, and
checked against every input, before the first image is read.
"""

import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from tqdm import tqdm

from .config import ColorizerError
from .data import candidate_files, lab_to_rgb, read_image, rgb_to_lab
from .deploy import OnnxColorizer
from .evaluation import predict
from .files import atomic_write
from .models import input_side

BATCH = 16                  # images per forward pass


@dataclass(frozen=True)
class Job:
    """One input file and the output it is written to."""
    source: Path
    target: Path


def colorize_rgb(model, rgb, tta="flip"):
    """(H, W, 3) uint8 -> (H, W, 3) uint8 with the input's L* and predicted a*b*; `model` is a
    torch model or a deploy.OnnxColorizer, here and below."""
    return colorize_batch(model, [rgb], tta)[0]


def colorize_batch(model, images, tta="flip"):
    """Colorize (H, W, 3) uint8 images of any sizes in one forward pass: each its own L*.

    The model sees L* resized to its own side (models.input_side); only its a*b* is upsampled
    back, so edges and detail come from the full-resolution L* (as in Zhang et al.'s inference).
    """
    # torchvision only here: importing it costs every process ~160 MB, training included
    import torchvision.transforms.v2.functional as TF

    size = model.side if isinstance(model, OnnxColorizer) else input_side(model)
    Ls = [rgb_to_lab(rgb)[None, :1] for rgb in images]                       # (1, 1, H, W) each
    small = torch.cat([TF.resize(L, [size, size], antialias=True) for L in Ls])   # (B, 1, s, s)
    ab = (model.predict(small, tta) if isinstance(model, OnnxColorizer)
          else predict(model, small, tta=tta))                  # (B, 2, s, s), or (B, 2)
    out = []
    for L, ab_i in zip(Ls, ab):
        H, W = L.shape[-2:]
        if ab_i.dim() == 1:                                     # a regressor: one a*b* per image
            ab_i = ab_i[None, :, None, None].expand(1, 2, H, W)
        else:
            ab_i = F.interpolate(ab_i[None], size=(H, W), mode="bilinear", align_corners=False)
        out.append(lab_to_rgb(L, ab_i)[0])
    return out


def comparison_strip(rgb, colorized):
    """grayscale | colorized | original (the last only when the input has colour), one image."""
    L = rgb_to_lab(rgb)[None, :1]
    gray = lab_to_rgb(L, torch.zeros(1, 2, *L.shape[-2:]))[0]      # L* alone, as the model saw
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
    are missing or empty folders."""
    found, problems, seen = [], [], set()
    for item in map(_absolute, inputs):
        if item.is_dir():
            files = [(p, item) for _, p in candidate_files(item)
                     if not (out_dir != item and out_dir in p.parents)]
            if not files:
                problems.append((item, ColorizerError(f"no files in folder {item}")))
        elif item.exists():
            files = [(item, item.parent)]
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


def colorize_paths(model, inputs, out_dir, tta="flip", overwrite=False, compare=False,
                   progress=None):
    """Colorize every input file into `out_dir` (see plan); yields (input, outcome) with outcome
    the output Path written, "kept" (the output was there already and `overwrite` is off) or a
    ColorizerError. `compare` writes grayscale | colorized | original strips instead."""
    out_dir = prepare_out_dir(out_dir)
    jobs, problems = plan(inputs, out_dir)
    yield from problems
    # progress None: a bar when stderr is a terminal (tqdm's own test)
    with tqdm(total=len(jobs), desc="colorize", unit="img", leave=False,
              disable=None if progress is None else not progress) as bar:
        for start in range(0, len(jobs), BATCH):
            batch = jobs[start:start + BATCH]
            yield from _colorize_jobs(model, batch, tta, overwrite, compare)
            bar.update(len(batch))


def _colorize_jobs(model, jobs, tta, overwrite, compare):
    """(source, outcome) for a batch of jobs, the readable images run in one forward pass."""
    todo, images = [], []
    for job in jobs:
        if job.target.exists() and not overwrite:
            yield job.source, "kept"
            continue
        try:
            images.append(read_image(job.source))
        except ColorizerError as e:
            yield job.source, e
            continue
        todo.append(job)
    if not todo:
        return
    for job, rgb, colorized in zip(todo, images, colorize_batch(model, images, tta)):
        picture = comparison_strip(rgb, colorized) if compare else colorized
        try:
            job.target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(job.target, lambda tmp, p=picture: Image.fromarray(p).save(tmp, "PNG"))
        except OSError as e:
            yield job.source, ColorizerError(f"cannot write {job.target}: {e.strerror or e}")
            continue
        yield job.source, job.target
