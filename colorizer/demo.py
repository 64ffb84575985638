"""A web demo on 127.0.0.1: upload photos, see grayscale | colorized | original, download the
colorized PNGs (Gradio, an optional extra: `pip install -e ".[demo]"`)."""

import os
import tempfile
from functools import lru_cache
from pathlib import Path

from PIL import Image

from .checkpoint import load_model
from .colorize import colorize_batch, comparison_strip
from .config import ColorizerError
from .data import read_image
from .devices import get_device
from .pretrained import shipped_weights

INTRO = ("Upload one or several photos; each keeps its own lightness L\\* and gets predicted "
         "a\\*b\\*. The shipped model was trained on 675 frontal faces at 128 px: other subjects "
         "get face-like colours (its model card says more).")


def gradio():
    """The gradio module, or one line on how to install it."""
    # no usage statistics sent anywhere: the demo runs on this machine
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    try:
        import gradio
    except ImportError:
        raise ColorizerError('the demo needs Gradio: pip install -e ".[demo]"') from None
    return gradio


@lru_cache(maxsize=4)
def _model(checkpoint):
    """A model by checkpoint path ('' for the shipped one), loaded once, on the CPU."""
    model, _ = load_model(checkpoint or shipped_weights(), get_device("cpu"))
    return model


def colorize_uploads(paths, checkpoint="", temperature=None, out_dir=None):
    """(strips with captions, colorized PNG paths) for uploaded files; unreadable ones are
    captioned with their error instead."""
    model = _model((checkpoint or "").strip())
    if model.head == "classify" and temperature:
        model.temperature = float(temperature)
    out_dir = Path(out_dir or tempfile.mkdtemp(prefix="colorizer-demo-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    readable, strips = [], []
    for path in map(Path, paths or []):
        try:
            readable.append((path, read_image(path)))
        except ColorizerError as e:
            strips.append((Image.new("RGB", (8, 8), "white"), str(e)))
    colorized = colorize_batch(model, [rgb for _, rgb in readable]) if readable else []
    files = []
    for (path, rgb), out in zip(readable, colorized):
        files.append(out_dir / f"{path.stem}.colorized.png")
        Image.fromarray(out).save(files[-1])
        strips.append((Image.fromarray(comparison_strip(rgb, out)),
                       f"{path.name}: grayscale | colorized | original"))
    return strips, [str(f) for f in files]


def build_app(checkpoint=""):
    """The Blocks app: photos and a model in, strips and downloads out."""
    gr = gradio()
    with gr.Blocks(title="colorizer") as app:
        gr.Markdown("# colorizer\n" + INTRO)
        with gr.Row():
            photos = gr.File(label="photos", file_count="multiple", file_types=["image"],
                             elem_id="photos")
            with gr.Column():
                model = gr.Textbox(label="model: a checkpoint path (empty: the shipped "
                                   "colorizer)", value=checkpoint)
                temperature = gr.Slider(0.01, 1.0, value=0.38, step=0.01,
                                        label="temperature (classify head only)")
                go = gr.Button("Colorize", variant="primary", elem_id="go")
        gallery = gr.Gallery(label="grayscale | colorized | original", format="png",
                             elem_id="result", columns=1, object_fit="contain", height="auto")
        downloads = gr.File(label="colorized PNGs", file_count="multiple", elem_id="downloads")
        go.click(lambda p, c, t: colorize_uploads([f.name if hasattr(f, "name") else f
                                                   for f in p or []], c, t),
                 [photos, model, temperature], [gallery, downloads])
    return app


def serve(port=7860, share=False, checkpoint=""):
    """Start the app on 127.0.0.1:`port` (blocks until stopped)."""
    build_app(checkpoint).launch(server_name="127.0.0.1", server_port=port, share=share)
