"""A stored output of tiny seeded models (timm's pattern): a change to a forward pass, an
initialisation or the input scaling shows up here. After an intended change, rewrite the file:

    python -m tests.test_stored_output
"""

import json
from pathlib import Path

import pytest
import torch

from colorizer import Config, build_model

STORED = Path(__file__).with_name("data") / "stored_output.json"
CONV = dict(stem="conv")
CASES = {"colorizer-tanh": dict(head="tanh", ab_stride=1, **CONV),
         "colorizer-sigmoid": dict(head="sigmoid", ab_stride=1, **CONV),
         "colorizer-sigmoid-stride4": dict(head="sigmoid", ab_stride=4, **CONV),
         "colorizer-classify": dict(head="classify", **CONV),
         "regressor-sigmoid": dict(model="regressor", head="sigmoid", **CONV),
         "colorizer-sigmoid-space-to-depth": dict(head="sigmoid", ab_stride=4,
                                                  stem="space_to_depth")}


def outputs(name):
    """Raw a*b* of a seeded (4, 8, 8) model for a fixed 16 px input: a few values, two sums."""
    torch.manual_seed(0)
    model = build_model(Config(widths=(4, 8, 8), **CASES[name]))
    L = torch.linspace(0, 100, 2 * 16 * 16).reshape(2, 1, 16, 16)
    L = L.sin().abs() * 100                        # structure to see, not a ramp
    with torch.no_grad():
        ab = model.decode(model(L), L.shape[-2:])  # training mode: batch statistics
    return {"first": ab.flatten()[:6].tolist(), "sum": float(ab.double().sum()),
            "abs_sum": float(ab.double().abs().sum())}


@pytest.mark.parametrize("name", sorted(CASES))
def test_forward_matches_the_stored_output(name):
    stored = json.loads(STORED.read_text())[name]
    got = outputs(name)
    # float32 convolutions may sum in another order on another CPU: 1e-4 relative
    assert got["first"] == pytest.approx(stored["first"], rel=1e-4, abs=1e-4)
    assert got["sum"] == pytest.approx(stored["sum"], rel=1e-4, abs=1e-3)
    assert got["abs_sum"] == pytest.approx(stored["abs_sum"], rel=1e-4)


if __name__ == "__main__":
    STORED.write_text(json.dumps({name: outputs(name) for name in sorted(CASES)}, indent=2) + "\n")
    print(f"wrote {STORED}")
