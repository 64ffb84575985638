"""Colorize images of any size with a trained model, keeping each input's own L*."""

from pathlib import Path

import torch.nn.functional as F
from PIL import Image

from .config import ColorizerError
from .data import lab_to_rgb, read_image, rgb_to_lab
from .evaluation import predict


def colorize_rgb(model, rgb, size=128):
    """(H, W, 3) uint8 -> (H, W, 3) uint8 with the input's L* and predicted a*b*.

    The model sees L* resized to size x size; only its a*b* is upsampled back, so edges and
    detail come from the full-resolution L* (as in Zhang et al.'s inference).
    """
    # torchvision only here: importing it costs every process ~160 MB, training included
    import torchvision.transforms.v2.functional as TF

    L = rgb_to_lab(rgb)[None, :1]                                    # (1, 1, H, W)
    H, W = L.shape[-2:]
    L_small = TF.resize(L, [size, size], antialias=True)            # bilinear
    ab = predict(model, L_small)                                     # (1, 2, s, s) or (1, 2)
    if ab.dim() == 2:
        ab = ab[:, :, None, None].expand(1, 2, H, W)
    else:
        ab = F.interpolate(ab, size=(H, W), mode="bilinear", align_corners=False)
    return lab_to_rgb(L, ab)[0]


def expand_inputs(inputs):
    """Files as given, and the non-hidden files of any folder, sorted."""
    for item in map(Path, inputs):
        if item.is_dir():
            yield from sorted(p for p in item.iterdir()
                              if p.is_file() and not p.name.startswith("."))
        else:
            yield item


def colorize_paths(model, inputs, out_dir, size=128):
    """Colorize every input into `out_dir/<stem>.png`; yields (input, output or ColorizerError)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for path in expand_inputs(inputs):
        if not path.exists():
            yield path, ColorizerError(f"no such file or folder: {path}")
            continue
        try:
            rgb = read_image(path)
        except ColorizerError as e:
            yield path, e
            continue
        out = out_dir / (path.stem + ".png")
        Image.fromarray(colorize_rgb(model, rgb, size)).save(out)
        yield path, out
