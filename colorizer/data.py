"""Load images, split them, and convert RGB <-> CIE L*a*b* once, into memory."""

import math
import os
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps
from skimage import color

from .config import (
    CROP_RATIO,
    CROP_SCALE,
    IN_MEMORY_MB,
    SPLIT_SEED,
    TEST_FRACTION,
    VAL_FRACTION,
    ColorizerError,
)
from .console import LOUD
from .files import write_json

# Files in a data folder that are not meant as images and are passed over without a warning.
_NOT_IMAGES = ("readme", "license", ".gitignore", ".gitkeep")
_CHUNK = 16               # images converted to Lab per call (see load_images)
STRIPE = 2**18            # pixels per rgb2lab / lab2rgb call: both work in float64 with several
                          # temporaries (~100 bytes a pixel), so a photo is converted in stripes
# The largest image read by default (pixels, from its header): `colorize`'s memory grows with an
# image's pixels (the figures: benchmarks.colorize_memory); `--max-pixels` raises it for a
# machine with the memory
MAX_PIXELS = 100_000_000
# The face set the repository carries (750 JPEGs and their licence), for runs started elsewhere.
BUNDLED = Path(__file__).resolve().parents[1] / "face_images"


def resolve_data_dir(path=None):
    """The data folder: an explicit path, else $COLORIZER_DATA, else ./face_images, else the
    repository's own face_images/ (from a checkout or an editable install)."""
    if path is None:
        path = os.environ.get("COLORIZER_DATA")
    if path is None:
        path = next((p for p in (Path("face_images"), BUNDLED) if p.is_dir()), "face_images")
    path = Path(path)
    if not path.is_dir():
        raise ColorizerError(f"data folder not found: {path} (pass --data DIR or set "
                             "COLORIZER_DATA to a folder of images)")
    return path


def list_images(data_dir):
    """{name: path} of a data folder's candidate files, searched through its subfolders and
    sorted by name, the path relative to the folder (hidden files and folders, READMEs and
    licences left out)."""
    data_dir = resolve_data_dir(data_dir)
    files = dict(candidate_files(data_dir))
    if not files:
        raise ColorizerError(f"data folder is empty: {data_dir} (it needs image files)")
    return files


def candidate_files(folder):
    """(name, path) of the files below `folder` that may be images, sorted by name (the path
    relative to the folder, '/'-separated): hidden files and folders, READMEs and licences are
    left out."""
    files = {}
    for p in Path(folder).rglob("*"):
        rel = p.relative_to(folder)
        if (not any(part.startswith(".") for part in rel.parts)
                and not p.name.lower().startswith(_NOT_IMAGES) and p.is_file()):
            files[rel.as_posix()] = p
    return sorted(files.items())


def to_rgb8(img):
    """Any PIL image -> (H, W, 3) uint8 sRGB: 16/32-bit grayscale scaled, alpha over white."""
    if img.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        a = np.asarray(img).astype(np.float64) / 257.0      # 16-bit range onto 8 bits
        a = np.clip(np.rint(a), 0, 255).astype(np.uint8)
        return np.repeat(a[..., None], 3, axis=2)
    if img.mode == "F":
        a = np.clip(np.rint(np.asarray(img)), 0, 255).astype(np.uint8)
        return np.repeat(a[..., None], 3, axis=2)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    return np.asarray(img if img.mode == "RGB" else img.convert("RGB"))    # (no needless copy)


def read_image(path, max_pixels=MAX_PIXELS):
    """One image file -> (H, W, 3) uint8 as it is meant to be viewed (its EXIF orientation
    applied: a phone photo stored sideways is seen upright), or a ColorizerError naming it.
    An image of more than `max_pixels` is refused from its header, before it is decoded."""
    try:
        with _opened(path) as img:
            refuse_too_large(path, img.size, max_pixels)
            with quiet_exif():
                img.load()
                ImageOps.exif_transpose(img, in_place=True)
            return to_rgb8(img)
    except Image.DecompressionBombError:
        raise ColorizerError(f"cannot read image {path}: more than twice Pillow's limit of "
                             f"{Image.MAX_IMAGE_PIXELS / 1e6:g} MP") from None
    except (OSError, ValueError, SyntaxError) as e:
        raise ColorizerError(f"cannot read image {path}: {e}") from None


def image_pixels(path):
    """An image file's pixel count from its header (nothing decoded); 0 when it is unreadable
    (reading it says why)."""
    try:
        with _opened(path) as img:
            return img.size[0] * img.size[1]
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return 0


def set_pixel_limit(max_pixels):
    """Pillow's own decompression-bomb check at the same bound as read_image's (Pillow warns
    above it, which read_image replaces with its own line, and refuses twice it)."""
    Image.MAX_IMAGE_PIXELS = max_pixels


set_pixel_limit(MAX_PIXELS)


@contextmanager
def _opened(path):
    """Image.open without Pillow's bomb warning (the size is checked here: refuse_too_large) or
    its warnings on a malformed EXIF block (quiet_exif)."""
    with warnings.catch_warnings(), quiet_exif():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        img = Image.open(path)
    with img:
        yield img


@contextmanager
def quiet_exif():
    """Pillow's warnings on a malformed EXIF block silenced: the image is read all the same
    (its orientation as far as the block tells it), and a user sees nothing of Pillow's paths."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        yield


def refuse_too_large(path, size, max_pixels):
    """One line when an image of `size` (W, H) has more than `max_pixels` pixels."""
    if size[0] * size[1] > max_pixels:
        raise ColorizerError(f"cannot read image {path}: {size[0]} x {size[1]} = "
                             f"{size[0] * size[1] / 1e6:.0f} MP is over the limit of "
                             f"{max_pixels / 1e6:g} MP (--max-pixels)")


def fit_size(rgb, size):
    """Resize and centre-crop to size x size, keeping the aspect (PIL's ImageOps.fit)."""
    if rgb.shape[:2] == (size, size):
        return rgb
    return np.asarray(ImageOps.fit(Image.fromarray(rgb), (size, size), Image.BICUBIC))


def rgb_to_lab(rgb, dtype=np.float32, channels=3):
    """(..., H, W, 3) uint8 sRGB -> (..., C, H, W) tensor of L*, a*, b* (scikit-image), the
    first `channels` of them (1: L* alone), converted a stripe of rows at a time."""
    lab = np.empty((*rgb.shape[:-3], channels, *rgb.shape[-3:-1]), dtype)
    for rows in stripes(rgb.shape[:-1]):
        lab[..., rows, :] = np.moveaxis(color.rgb2lab(rgb[..., rows, :, :])[..., :channels],
                                        -1, -3)
    return torch.from_numpy(lab)


def lightness(rgb):
    """(H, W, 3) uint8 sRGB -> (1, 1, H, W) float32 L*: all that is kept of a photo to colorize."""
    return rgb_to_lab(rgb, channels=1)[None]


def lab_to_rgb(L, ab):
    """L (..., 1, H, W) and a*b* (..., 2, H, W) in raw units -> (..., H, W, 3) uint8 sRGB,
    converted a stripe of rows at a time."""
    L, ab = L.detach().cpu(), ab.detach().cpu()
    out = np.empty((*L.shape[:-3], *L.shape[-2:], 3), np.uint8)
    for rows in stripes((*L.shape[:-3], *L.shape[-2:])):
        lab = torch.cat([L[..., rows, :], ab[..., rows, :]], dim=-3).double().numpy()
        with warnings.catch_warnings():      # predicted a*b* may leave the sRGB gamut: clipped
            warnings.simplefilter("ignore")
            rgb = color.lab2rgb(np.moveaxis(lab, -3, -1))
        out[..., rows, :, :] = np.clip(np.rint(rgb * 255), 0, 255)
    return out


def stripes(shape):
    """Slices of rows (the H of a (..., H, W) shape) of at most STRIPE pixels each (one row at
    least), covering every row."""
    height, per_row = shape[-2], max(1, math.prod(shape) // max(1, shape[-2]))
    step = max(1, STRIPE // per_row)
    return [slice(i, i + step) for i in range(0, height, step)]


@dataclass
class LabImages:
    """A set of images as (N, 3, H, W) float32 L*, a*, b*: a tensor in memory, or a
    cache.DiskLab that reads the rows it is indexed with from the on-disk cache. `skipped`:
    the files of the folder that could not be read."""
    names: list
    lab: torch.Tensor
    skipped: list = field(default_factory=list)

    @property
    def L(self):
        return self.lab[:, :1]

    @property
    def ab(self):
        return self.lab[:, 1:]

    def __len__(self):
        return len(self.names)

    def subset(self, names):
        index = {n: i for i, n in enumerate(self.names)}
        require(names, index, "the data")
        rows = torch.tensor([index[n] for n in names], dtype=torch.long)
        lab = self.lab.at_rows(rows) if hasattr(self.lab, "at_rows") else self.lab[rows]
        return LabImages(list(names), lab, self.skipped)


def load_images(data_dir=None, size=128, limit=None, names=None):
    """Read a folder of images into LabImages, converting to Lab once.

    `limit` keeps the first N files by name; `names` keeps exactly those files (a saved split).
    Unreadable files are skipped with one warning; images of another size are fitted with one.
    """
    folder = resolve_data_dir(data_dir)
    return decode_files(folder, list_images(folder), size, limit, names)


def open_images(cfg, names=None, limit=None, report=LOUD):
    """The images a Config asks for: decoded into memory as float32, or, for --cache on (or auto
    and a large folder), read from the on-disk cache (scale.cache, imported only then).
    `names` / `limit` as for load_images.

    The one entry point from a data folder to its images: the folder is resolved and listed once,
    and the list goes to the loader that is used."""
    folder = resolve_data_dir(cfg.data).resolve()
    files = list_images(folder)
    if not use_cache(cfg.cache, len(names or files), cfg.image_size):
        return decode_files(folder, files, cfg.image_size, limit=limit, names=names)
    from .scale.cache import cached_folder

    images = cached_folder(folder, files, cfg.image_size, report=report)
    if names is not None:
        return images.subset(names)
    return images.subset(images.names[:limit]) if limit else images


def use_cache(mode, n_images, size):
    """Whether --cache `mode` means the disk for n_images of size x size."""
    if mode == "auto":
        return n_images * 3 * size * size * 4 > IN_MEMORY_MB * 2**20
    return mode == "on"


def decode_files(folder, files, size=128, limit=None, names=None):
    """load_images of a folder already listed ({name: path}, as list_images gives)."""
    files = _select(folder, files, names, limit)
    good, bad, resized = [], [], []
    lab = torch.empty(len(files), 3, size, size)
    # _CHUNK images per rgb2lab call: it works in float64 with several temporaries (docs/design.md)
    for chunk in _batched(_decode(files, size, bad, resized), _CHUNK):
        lab[len(good):len(good) + len(chunk)] = rgb_to_lab(np.stack([rgb for _, rgb in chunk]))
        good += [name for name, _ in chunk]
    report_decoding(folder, len(files), good, bad, resized, size)
    return LabImages(good, lab[:len(good)].clone() if bad else lab, bad)


def report_decoding(folder, tried, good, bad, resized, size):
    """One warning for the unreadable files and one for the resized ones; none readable: error."""
    if not good:
        raise ColorizerError(f"no readable image in {folder} ({tried} file(s) tried)")
    if bad:
        warnings.warn(f"skipped {len(bad)} unreadable file(s) in {folder}: {_few(bad)} "
                      "(the full list: skipped.txt in the run folder)", stacklevel=3)
    if resized:
        warnings.warn(f"resized/cropped {len(resized)} image(s) to {size}x{size}: {_few(resized)}",
                      stacklevel=3)


def _select(folder, files, names, limit):
    """[(name, path)] a load asks for: exactly `names` (a saved split), else the first `limit`."""
    if names is not None:
        require(names, files, folder)
        return [(n, files[n]) for n in names]
    return list(files.items())[:limit]


def require(names, available, where):
    """One line naming the first few of `names` (a saved split's) that `available` lacks."""
    missing = [n for n in names if n not in available]
    if missing:
        raise ColorizerError(f"{len(missing)} image(s) of the split are missing from {where}: "
                             f"{', '.join(missing[:5])}")


def _decode(files, size, bad, resized):
    """(name, (size, size, 3) uint8) for each readable file; the others' names go to `bad`,
    those fitted from another size to `resized`."""
    for name, p in files:
        try:
            rgb = read_image(p)
        except ColorizerError:
            bad.append(name)
            continue
        if rgb.shape[:2] != (size, size):
            resized.append(name)
            rgb = fit_size(rgb, size)
        yield name, rgb


def _batched(items, n):
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == n:
            yield batch
            batch = []
    if batch:
        yield batch


def _few(names, k=10):
    return ", ".join(names[:k]) + (f" and {len(names) - k} more" if len(names) > k else "")


def ab_mean(images, chunk=256):
    """The mean a*, b* of a LabImages set, as two floats: the training-split constant that the
    baselines and the regressor's R^2 are measured against (summed `chunk` images at a time)."""
    total = torch.zeros(2, dtype=torch.float64)
    for lab in chunks(images.lab, chunk):
        total += lab[:, 1:].double().mean(dim=(2, 3)).sum(0).cpu()
    return (total / len(images)).tolist()


def chunks(lab, n):
    """Consecutive blocks of at most n images of a Lab tensor or DiskLab, as tensors."""
    for i in range(0, len(lab), n):
        yield lab[i:i + n]


def split(data, test_fraction=TEST_FRACTION, seed=SPLIT_SEED):
    """(train, test) LabImages of a loaded set, by the seeded split of its names."""
    train, test = split_names(data.names, test_fraction, seed)
    return data.subset(train), data.subset(test)


def split_names(names, test_fraction=TEST_FRACTION, seed=SPLIT_SEED):
    """Seeded split of sorted names: (train, test). The same names and seed split alike anywhere."""
    names = sorted(names)
    if len(names) < 2:
        raise ColorizerError(f"need at least 2 images to split into train and test, "
                             f"got {len(names)}")
    n_test = min(len(names) - 1, max(1, round(len(names) * test_fraction)))
    perm = np.random.default_rng(seed).permutation(len(names))
    test = sorted(names[i] for i in perm[:n_test])
    train = sorted(names[i] for i in perm[n_test:])
    return train, test


def validation_names(train_names, seed=SPLIT_SEED):
    """(fit, val): the training split's names cut by the same seeded rule, VAL_FRACTION of them
    held out for choosing settings. The test split is untouched: a choice never sees it."""
    return split_names(train_names, VAL_FRACTION, seed)


def save_split(path, train, test, seed, val=()):
    write_json(path, {"seed": seed, "train": list(train), "test": list(test),
                      **({"val": list(val)} if val else {})})


# Augmentation: batched random resized crops and horizontal flips of L*a*b* tensors, seeded

def crop_draws(n, generator):
    """The uniform numbers that random_resized_crop spends on n images, (n, 5), drawn on the CPU:
    the same numbers on any device. Drawn for many batches at once, they are the numbers that
    batch-by-batch draws give, in order."""
    return torch.rand(n, 5, generator=generator)


def random_resized_crop(lab, generator, scale=CROP_SCALE, ratio=CROP_RATIO, flip=True,
                        draws=None):
    """Crop each image of a (B, C, H, W) batch at its own random box and resize back to (H, W).

    One affine grid for the whole batch: L* and a*b* are channels of the same tensor, so they
    move together. The box covers `scale` of the area with aspect `ratio` (as torchvision's
    RandomResizedCrop); with `flip`, half the images are mirrored left-right. `draws`: the
    batch's crop_draws, already on lab's device (training draws an epoch's at once); else they
    are drawn from `generator` here.
    """
    B = lab.shape[0]
    u = crop_draws(B, generator) if draws is None else draws
    area = scale[0] + (scale[1] - scale[0]) * u[:, 0]
    log_r = math.log(ratio[0]) + (math.log(ratio[1]) - math.log(ratio[0])) * u[:, 1]
    aspect = torch.exp(log_r)
    w = torch.sqrt(area * aspect).clamp(max=1.0)        # box size as a fraction of the side
    h = torch.sqrt(area / aspect).clamp(max=1.0)
    cx = (1 - w) * (2 * u[:, 2] - 1)                    # box centre, normalised coordinates [-1, 1]
    cy = (1 - h) * (2 * u[:, 3] - 1)
    sx = torch.where(u[:, 4] < 0.5, -w, w) if flip else w
    # The box is axis-aligned, so the sampling grid is separable: x depends on the column only,
    # y on the row only. Building it from two (B, W) and (B, H) rows costs a fraction of
    # F.affine_grid's per-pixel matrix product.
    B, _, H, W = lab.shape
    kw = dict(device=lab.device, dtype=lab.dtype)
    gx = sx.to(**kw)[:, None] * _centres(W, **kw) + cx.to(**kw)[:, None]      # (B, W)
    gy = h.to(**kw)[:, None] * _centres(H, **kw) + cy.to(**kw)[:, None]       # (B, H)
    grid = torch.stack([gx[:, None, :].expand(B, H, W), gy[:, :, None].expand(B, H, W)], dim=-1)
    return F.grid_sample(lab, grid, mode="bilinear", padding_mode="border", align_corners=False)


def _centres(n, **kw):
    """Pixel centres in grid_sample's normalised coordinates (align_corners=False)."""
    return (torch.arange(n, **kw) + 0.5) * (2.0 / n) - 1.0
