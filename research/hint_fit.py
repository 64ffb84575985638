"""The hint part's numbers (colorizer.spread), fitted to simulated people, and the people the
hints benchmark measures with.

Three kinds of person, each a batch of hint maps and the picture they want:
- random: points of the true colour, as colorization-pytorch's sampler draws them (hints.simulate);
- corrective: points of the true colour where the model is most wrong, one after another;
- recolour: a region of the photo (one SLIC segment of its true L*a*b*) wanted in a colour the
  photo does not have (the palette colour furthest from the region's own), points inside it; the
  picture wanted is that colour in the region and the model's own colours elsewhere.

The fit needs the model's errors as they are on photos it never saw: it runs on the validation
split of a twin run (the shipped recipe with `--holdout val`), whose numbers are then written into
the shipped weights (the network's own entries stay byte for byte):

    python -m colorizer train --epochs 109 --lr 0.002 --precision bfloat16 --holdout val \
        --out runs/twin
    python -m research.hint_fit runs/twin --into colorizer/weights
"""

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from colorizer import hints, load_images, split
from colorizer.checkpoint import CHECKPOINT, MODEL_FILE, load_model
from colorizer.config import ColorizerError
from colorizer.data import validation_names
from colorizer.evaluation import PLAIN, predict
from colorizer.packing import read_shipped, write_shipped
from colorizer.spread import Spread

PALETTE = torch.tensor([[0.0, -45.0], [-45.0, 35.0], [55.0, 30.0], [10.0, 60.0], [45.0, -40.0],
                        [-30.0, -25.0]])        # raw a*b*: blue, green, red, yellow, purple, cyan
REGION_PX = (500, 5000)     # a recoloured region's size, px of 128 x 128
FAR_PX = 12                 # "the rest of the photo": pixels at least this far from the region
STEPS, BATCH, LR = 150, 12, 0.05
AT_POINTS = 1.0           # the loss's weight on the hinted pixels themselves (points stick)
FIT_CELLS = 64              # hinted cells a training batch keeps (the simulated points need fewer)
FIT_SEED = 0


def regions(lab, seed):
    """One region per image (B, 1, H, W) bool: a SLIC segment (Achanta et al. 2012) of its true
    L*a*b*, drawn among those of REGION_PX pixels (none: the largest)."""
    from skimage.segmentation import slic

    rng = np.random.default_rng(seed)
    out = []
    for image in lab:
        seg = slic(image.permute(1, 2, 0).double().numpy(), n_segments=10, compactness=10,
                   channel_axis=-1, convert2lab=False, start_label=0)
        ids, counts = np.unique(seg, return_counts=True)
        fits = ids[(counts >= REGION_PX[0]) & (counts <= REGION_PX[1])]
        out.append(torch.from_numpy(seg == rng.choice(fits if len(fits) else
                                                      ids[[np.argmax(counts)]])))
    return torch.stack(out)[:, None]


def recolour(lab, base, n, seed):
    """A recolouring person: (hint maps, wanted a*b*, region, far), `n` points of a new colour in
    one region per image (see the module's docstring); `base` the model's a*b*."""
    from scipy import ndimage

    region = regions(lab, seed)
    g = torch.Generator().manual_seed(seed)
    maps = torch.zeros(len(lab), hints.CHANNELS, *lab.shape[-2:])
    wanted, far = base.clone(), torch.zeros_like(region)
    side = hints.POINT_SIDE
    for i in range(len(lab)):
        inside = region[i, 0].numpy()
        core = ndimage.binary_erosion(inside, iterations=side // 2)    # whole points inside
        ys, xs = np.nonzero(core if core.any() else inside)
        pick = torch.randint(len(ys), (n,), generator=g).numpy()
        own = lab[i, 1:][:, region[i, 0]].mean(1)
        colour = PALETTE[((PALETTE - own) ** 2).sum(1).argmax()]
        y = torch.from_numpy(ys[pick] - side // 2).clamp(0, lab.shape[-2] - side)
        x = torch.from_numpy(xs[pick] - side // 2).clamp(0, lab.shape[-1] - side)
        maps[i] = hints.stamp((1, *lab.shape[-2:]), torch.zeros(n, dtype=torch.long), y, x,
                              torch.full((n,), side), colour.expand(n, 2))[0]
        wanted[i] = torch.where(region[i], colour[:, None, None], base[i])
        far[i, 0] = torch.from_numpy(ndimage.distance_transform_edt(~inside) >= FAR_PX)
    return maps, wanted, region, far


def recolour_scores(out, base, wanted, region, far):
    """Per image: how far the region went toward its new colour (the mean over its pixels of
    the change's share of the way, 1 = all the way) and how far the rest moved (mean a*b*
    distance from the model's own over pixels FAR_PX or more from the region)."""
    way = wanted - base
    share = ((out - base) * way).sum(1, keepdim=True) / (way ** 2).sum(1, keepdim=True).clamp(
        min=1e-6)
    moved = (out - base).norm(dim=1, keepdim=True)
    went = torch.stack([share[i][region[i]].mean() for i in range(len(out))])
    leak = torch.stack([moved[i][far[i]].mean() if far[i].any() else moved.new_zeros(())
                        for i in range(len(out))])
    return went, leak


def corrective_points(base, ab, k):
    """Hint maps with `k` true-colour points at the worst 9 x 9 windows of the model's error,
    each next one away from those before (the fit's quick stand-in for a person correcting)."""
    err = ((base - ab) ** 2).sum(1, keepdim=True)
    maps = torch.zeros(len(ab), hints.CHANNELS, *ab.shape[-2:])
    yy, xx = torch.meshgrid(torch.arange(ab.shape[-2]), torch.arange(ab.shape[-1]),
                            indexing="ij")
    for _ in range(k):
        y, x = hints.worst_windows(err)
        maps = hints.add_points(maps, ab, y, x)
        taken = ((yy - y[:, None, None]).abs() < hints.WORST_WINDOW) & (
            (xx - x[:, None, None]).abs() < hints.WORST_WINDOW)
        err = err * (~taken[:, None]).float()
    return maps


def fit(lab, base, seed=FIT_SEED, steps=STEPS, log=print):
    """A Spread fitted on images `lab` (N, 3, H, W) and the model's a*b* for them `base`: Adam on
    the mean squared distance to the picture each simulated person wants, the three kinds in
    turn, plus the same at the hinted pixels alone (points stick where they are placed). A
    recolouring person's band of FAR_PX round the region is not counted: where a region ends is
    the person's guess, and the benchmark judges the pixels beyond it."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    spread = Spread()
    opt = torch.optim.Adam(spread.parameters(), lr=LR)
    recolours = {n: recolour(lab, base, n, seed=100 * seed + n) for n in (1, 3, 10)}
    start = time.perf_counter()
    for step in range(steps):
        idx = torch.randperm(len(lab), generator=g)[:BATCH]
        L, ab, b = lab[idx, :1], lab[idx, 1:], base[idx]
        kind = step % 3
        counted = torch.ones_like(L)
        if kind == 0:
            maps, wanted = hints.simulate(ab, g), ab
        elif kind == 1:
            k = int(torch.randint(1, 11, (1,), generator=g))
            maps, wanted = corrective_points(b, ab, k), ab
        else:
            n = (1, 3, 10)[int(torch.randint(3, (1,), generator=g))]
            maps, wanted, region, far = (t[idx] for t in recolours[n])
            counted = (region | far).float()    # the region's edge is a guess: its band is free
        sq = (spread(L, b, maps, cells=FIT_CELLS) - wanted) ** 2
        mask = maps[:, 2:]
        loss = (sq * counted).mean() + AT_POINTS * (sq * mask).sum() / mask.sum().clamp(min=1)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if log and step % 25 == 0:
            log(f"  step {step:4d}  loss {loss.item():8.3f}  ({time.perf_counter() - start:.0f} s)")
    with torch.no_grad():               # as the shipped weights keep them (packing.compact)
        for value in spread.parameters():
            value.copy_(value.half().float())
    return spread.eval().requires_grad_(False), time.perf_counter() - start


def twin_validation(run_dir):
    """(validation L*a*b*, the twin's a*b* for them, the twin): a run trained with --holdout
    val, on the fixed validation split it held out."""
    model, ckpt = load_model(Path(run_dir) / CHECKPOINT, "cpu")
    if ckpt["config"].get("holdout") != "val":
        raise ColorizerError(f"{run_dir} was not trained with --holdout val: its validation "
                             "images are not held out")
    train, _ = split(load_images())
    val = train.subset(validation_names(train.names)[1])
    return val.lab, predict(model, val.L, tta=PLAIN), model


def write_into(folder, spread):
    """The shipped weights in `folder` with the hint part's entries replaced by `spread`'s (the
    network's entries as they were)."""
    path = f"{folder}/{MODEL_FILE}"
    ckpt = read_shipped(path)
    state = {**ckpt.pop("model"),
             **{f"spread.{k}": v.detach().half() for k, v in spread.state_dict().items()}}
    write_shipped(path, state, ckpt)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m research.hint_fit", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("twin", help="a run trained with --holdout val (the shipped recipe)")
    p.add_argument("--into", metavar="FOLDER", help="write the numbers into this model folder")
    p.add_argument("--seed", type=int, default=FIT_SEED)
    p.add_argument("--steps", type=int, default=STEPS)
    args = p.parse_args(argv)
    lab, base, _ = twin_validation(args.twin)
    spread, seconds = fit(lab, base, args.seed, args.steps)
    print(f"fitted in {seconds:.0f} s on {len(lab)} validation images:",
          {k: [round(x, 3) for x in v.tolist()] for k, v in spread.state_dict().items()})
    if args.into:
        write_into(args.into, spread)
        print(f"written into {args.into}")


if __name__ == "__main__":
    main()
