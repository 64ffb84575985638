"""Photos that are not faces of the training set (colour photos scikit-image ships): evidence of
the shipped model's limits, for its card."""

from pathlib import Path

import numpy as np
import torch

from colorizer.data import LabImages, fit_size, read_image, rgb_to_lab
from colorizer.evaluation import PLAIN, predict
from colorizer.metrics import ab_mse

# scikit-image's own colour photos, from its package folder (no download)
PHOTOS = {"astronaut.png": "a person, not a frontal face crop", "chelsea.png": "a cat",
          "coffee.png": "a cup of coffee", "rocket.jpg": "a rocket on its pad",
          "motorcycle_left.png": "a motorcycle", "retina.jpg": "a retina (medical)"}


def photos(size=128):
    """The photos as LabImages at size x size (fitted, centre-cropped)."""
    import skimage

    folder = Path(skimage.__file__).resolve().parent / "data"
    rgb = [fit_size(read_image(folder / name), size) for name in PHOTOS]
    return LabImages(list(PHOTOS), rgb_to_lab(np.stack(rgb)))


def scores(model, images, train_mean):
    """[{photo, what, model, gray, face mean}]: each photo's ab MSE (raw units²) for the model,
    for gray (a*b* = 0) and for the training faces' mean a*b* painted everywhere."""
    pred = predict(model, images.L, tta=PLAIN)
    const = torch.as_tensor(train_mean, dtype=torch.float32)[None, :, None, None]
    rows = []
    for i, name in enumerate(images.names):
        ab = images.ab[i:i + 1]
        rows.append({"photo": name, "what": PHOTOS[name],
                     "model": float(ab_mse(pred[i:i + 1], ab)),
                     "gray": float(ab_mse(torch.zeros_like(ab), ab)),
                     "face mean": float(ab_mse(const.expand_as(ab), ab))})
    return rows
