"""A colorizer for deployment: exported to ONNX with its decoding inside, run by onnxruntime.

The exported graph takes L* (N, 1, S, S) in raw units and gives raw a*b* (N, 2, S, S) (a
regressor: (N, 2)), the batch axis dynamic; the checkpoint's settings travel in the model's
metadata. onnx, onnxscript and onnxruntime are an optional extra (`pip install -e ".[onnx]"`).
"""

import copy
import json

import torch

from .config import MAX_SIDE, ColorizerError
from .models import input_side

OPSET = 17


class RawAB(torch.nn.Module):
    """A model with its decoding: L* -> raw a*b* at the input's side (what `predict` gives)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, L):
        return self.model.decode(self.model(L), L.shape[-2:])


def export_onnx(model, path, config=None):
    """Write `model` (int8 weights already expanded: plain float32) as ONNX at `path`; the
    caller's model stays where and as it was (a copy is exported, on the CPU)."""
    model = copy.deepcopy(model).cpu().eval()
    side = input_side(model)
    example = torch.full((2, 1, side, side), 50.0)
    # torch.export's exporter (with onnxscript): the side is fixed, so the bottleneck's shape
    # tests (models.Down / Up) are settled at export; the batch axis stays free
    torch.onnx.export(RawAB(model).eval(), (example,), str(path), dynamo=True, opset_version=OPSET,
                      input_names=["L"], output_names=["ab"], verbose=False,
                      dynamic_shapes={"L": {0: torch.export.Dim("batch", min=1)}})
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

    def predict(self, L, tta="none", batch_size=128):
        """Raw a*b* for L (N, 1, S, S); `tta="flip"` averages with the mirrored image's."""
        parts = []
        for i in range(0, len(L), batch_size):
            x = L[i:i + batch_size].float().contiguous()
            ab = self._run(x)
            if tta == "flip":
                mirrored = self._run(x.flip(-1))
                ab = (ab + (mirrored.flip(-1) if mirrored.dim() == 4 else mirrored)) / 2
            parts.append(ab)
        return torch.cat(parts)

    def _run(self, x):
        return torch.from_numpy(self.session.run(None, {"L": x.numpy()})[0])


def _checked_metadata(session, path):
    """(side, settings) of an exported colorizer, or one line on what in the file is wrong: the
    graph must take L (N, 1, S, S) with S fixed and within the sides a model here has, the
    metadata's `side` (if any) must be S, and its settings a JSON object."""
    inputs = session.get_inputs()
    shape = inputs[0].shape if len(inputs) == 1 else None
    if (inputs[0].name if len(inputs) == 1 else None) != "L" or len(shape) != 4 \
            or shape[1] != 1 or not isinstance(shape[-1], int) or shape[-1] != shape[-2] \
            or not 2 <= shape[-1] <= MAX_SIDE:
        raise ColorizerError(f"{path} is not a colorizer export: it must take one input L of "
                             f"shape (N, 1, S, S) with 2 <= S <= {MAX_SIDE}")
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
