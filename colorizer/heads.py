"""The output heads: what a model's last layer predicts, how raw a*b* becomes its target and its
output raw a*b* again, and its loss. A new head is one class here and one line in HEADS: the one
registry (config's choices, models' layers and the CLI read it)."""

import torch.nn as nn
import torch.nn.functional as F

from . import quantize

CLASSIFY_DOWNSAMPLE = 4   # the classify head scores a*b* bins at 1/4 of the side (32 of 128 px)


class Head:
    """A regression head: MSE between the output and the target in the head's range, through
    `activation` (the network's last layer)."""
    name = ""
    activation = None
    decodes_at_temperature = False      # whether --temperature means something for it
    loss_name = "MSE (head space)"

    def encode(self, ab):
        """Raw a*b* -> the head's range (the training target)."""
        raise NotImplementedError

    def decode(self, out, temperature=None):
        """The network's output -> raw a*b*."""
        raise NotImplementedError

    def loss(self, model, out, ab):
        """The training loss of `out` for raw a*b* `ab` at the output's side."""
        target = ab.mean(dim=(2, 3)) if model.kind == "regressor" else ab
        return F.mse_loss(out, self.encode(target))

    def fit_to(self, model, train_ab_chunks, rebalance):
        """What the model learns from the training split before it trains (nothing here)."""

    def output_side(self, ab_stride):
        """Where a colorizer with this head predicts a*b*, in words (model cards)."""
        if ab_stride > 1:
            return f"a*b* predicted at 1/{ab_stride} of the side and upsampled bilinearly"
        return "a*b* predicted at the full side"


class Sigmoid(Head):
    """(ab + 128) / 255 in (0, 1): the study's own scaling, so its loss compares with the
    study's table."""
    name = "sigmoid"
    activation = nn.Sigmoid

    def encode(self, ab):
        return (ab + 128.0) / 255.0

    def decode(self, out, temperature=None):
        return out * 255.0 - 128.0


class Tanh(Head):
    """ab / 128 in (-1, 1)."""
    name = "tanh"
    activation = nn.Tanh

    def encode(self, ab):
        return ab / 128.0

    def decode(self, out, temperature=None):
        return out * 128.0


class Classify(Head):
    """Scores over the Q in-gamut a*b* bins at 1/4 of the side (Zhang et al. 2016): soft-encoded
    targets, cross-entropy weighted by each pixel's rebalancing weight (Eq. 2-4), decoded by the
    annealed mean at a temperature."""
    name = "classify"
    decodes_at_temperature = True
    loss_name = "cross-entropy"

    def decode(self, out, temperature=quantize.TEMPERATURE):
        return quantize.annealed_mean(out, temperature)

    def loss(self, model, out, ab):
        index, weight = quantize.encode(ab)                              # (B, k, h, w)
        # Classes last: the scores come channels-last, so the softmax runs over contiguous memory
        ce = quantize.cross_entropy(out.permute(0, 2, 3, 1), index.permute(0, 2, 3, 1),
                                    weight.permute(0, 2, 3, 1))            # (B, h, w)
        return (model.class_weights[index[:, 0]] * ce).mean()

    def fit_to(self, model, train_ab_chunks, rebalance):
        """The class prior of the training split (Sec. 3.2), and its rebalancing weights."""
        counts = sum(quantize.class_counts(F.avg_pool2d(ab, CLASSIFY_DOWNSAMPLE))
                     for ab in train_ab_chunks)
        prior = quantize.smoothed_prior_of(counts)
        model.prior.copy_(prior)
        if rebalance:
            model.class_weights.copy_(quantize.rebalance_weights(prior))

    def output_side(self, ab_stride):
        return f"a*b* bins scored at 1/{CLASSIFY_DOWNSAMPLE} of the side"


HEADS = {h.name: h for h in (Sigmoid(), Tanh(), Classify())}
