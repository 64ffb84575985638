"""A colorizer for deployment: exported to ONNX with its decoding inside, run by onnxruntime.

The exported graph takes L* (N, 1, S, S) in raw units and gives raw a*b* (N, 2, S, S) (a
regressor: (N, 2)), the batch axis dynamic; a colorizer also takes colour points as hint maps
(N, 3, S, S), a second input `hints` (colorizer.hints; all zeros: no point, the prediction
itself), carried over its prediction by its hint part (colorizer.spread). The
checkpoint's settings travel in the model's metadata. onnx, onnxscript and onnxruntime are an
optional extra (`pip install -e ".[onnx]"`).
"""

import copy
import json

import torch

from ..config import MAX_SIDE, ColorizerError
from ..evaluation import TTA_DEFAULT, with_mirror
from ..hints import CHANNELS as HINT_CHANNELS
from ..hints import as_maps
from ..models import input_side

OPSET = 17


class RawAB(torch.nn.Module):
    """A model with its decoding: L* (and a colorizer's hint maps) -> raw a*b* at the input's
    side (what `predict` gives)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, L, hints=None):
        ab = self.model.decode(self.model(L), L.shape[-2:])
        return ab if hints is None else self.model.spread(L, ab, hints)


def export_onnx(model, path, config=None):
    """Write `model` (int8 weights already expanded: plain float32) as ONNX at `path`; the
    caller's model stays where and as it was (a copy is exported, on the CPU)."""
    model = copy.deepcopy(model).cpu().eval()
    side = input_side(model)
    batch = torch.export.Dim("batch", min=1)
    inputs = {"L": torch.full((2, 1, side, side), 50.0)}
    if model.kind == "colorizer":
        inputs["hints"] = torch.zeros(2, HINT_CHANNELS, side, side)
    # torch.export's exporter (with onnxscript): the side is fixed, so the bottleneck's shape
    # tests (models.Down / Up) are settled at export; the batch axis stays free
    torch.onnx.export(RawAB(model).eval(), tuple(inputs.values()), str(path), dynamo=True,
                      opset_version=OPSET, input_names=list(inputs), output_names=["ab"],
                      verbose=False, dynamic_shapes={name: {0: batch} for name in inputs})
    import onnx

    graph = onnx.load(str(path))
    for key, value in {"colorizer_config": json.dumps(config or {}), "side": str(side),
                       "units": "L* in, a*b* out: raw CIELAB (scikit-image Lab)"}.items():
        graph.metadata_props.add(key=key, value=value)
    onnx.save(graph, str(path))
    return path


class OnnxColorizer:
    """An exported colorizer run by onnxruntime on the CPU: `predict(L, tta)` as
    evaluation.predict gives it, raw a*b* as a CPU tensor."""

    def __init__(self, path):
        try:
            import onnxruntime
        except ImportError:
            raise ColorizerError("--onnx needs onnxruntime: pip install -e \".[onnx]\"") from None
        try:
            self.session = onnxruntime.InferenceSession(
                str(path), providers=["CPUExecutionProvider"])
        except Exception as e:          # onnxruntime raises its own kinds for a bad file
            raise ColorizerError(f"not a readable ONNX model: {path} ({type(e).__name__})") \
                from None
        self.side, self.config = _checked_metadata(self.session, path)
        self.takes_hints = len(self.session.get_inputs()) == 2

    def predict(self, L, tta=TTA_DEFAULT, batch_size=128, hints=None):
        """Raw a*b* for L (N, 1, S, S); `tta="flip"` averages with the mirrored image's;
        `hints` as evaluation.predict takes them (a colorizer's export)."""
        maps = as_maps(hints, L.shape, self.takes_hints)
        if self.takes_hints and maps is None:
            maps = torch.zeros(len(L), HINT_CHANNELS, *L.shape[-2:])
        parts = []
        for i in range(0, len(L), batch_size):
            x = L[i:i + batch_size].float()
            h = None if maps is None else maps[i:i + batch_size].float()
            parts.append(with_mirror(self._run, x, h, tta))
        return torch.cat(parts)

    def _run(self, x, hints=None):
        feed = {"L": x.contiguous().numpy(),
                **({} if hints is None else {"hints": hints.contiguous().numpy()})}
        return torch.from_numpy(self.session.run(None, feed)[0])


def _checked_metadata(session, path):
    """(side, settings) of an exported colorizer, or one line on what in the file is wrong: the
    graph must take L (N, 1, S, S) with S fixed and within the sides a model here has, the
    metadata's `side` (if any) must be S, and its settings a JSON object."""
    inputs = session.get_inputs()
    shape = inputs[0].shape
    if inputs[0].name != "L" or len(shape) != 4 \
            or shape[1] != 1 or not isinstance(shape[-1], int) or shape[-1] != shape[-2] \
            or not 2 <= shape[-1] <= MAX_SIDE or not _hint_input_ok(inputs[1:], shape[-1]):
        raise ColorizerError(f"{path} is not a colorizer export: it must take an input L of "
                             f"shape (N, 1, S, S) with 2 <= S <= {MAX_SIDE} (and at most hint "
                             f"maps, hints (N, {HINT_CHANNELS}, S, S))")
    side, meta = shape[-1], session.get_modelmeta().custom_metadata_map
    if meta.get("side", str(side)) != str(side):
        raise ColorizerError(f"{path}: its metadata says side={meta['side']!r} where its graph "
                             f"takes {side} px")
    try:
        config = json.loads(meta.get("colorizer_config", "{}"))
    except ValueError as e:
        raise ColorizerError(f"{path}: its colorizer_config metadata is not JSON ({e})") from None
    if not isinstance(config, dict):
        raise ColorizerError(f"{path}: its colorizer_config metadata is not a JSON object")
    return side, config


def _hint_input_ok(rest, side):
    """Whether the inputs after L are none, or one `hints` of shape (N, 3, S, S)."""
    if not rest:
        return True
    return (len(rest) == 1 and rest[0].name == "hints"
            and list(rest[0].shape[1:]) == [HINT_CHANNELS, side, side])
