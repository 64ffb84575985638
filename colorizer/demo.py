"""A web demo: upload photos, see grayscale | colorized | original, download the colorized PNGs
(Gradio, an optional extra: `pip install -e ".[demo]"`).

Safe to show: the models are the ones given on the command line, loaded and checked at start
(a visitor picks one by name, never by path); a request's settings are its own; each request
writes into a private folder of its own, removed after KEEP_S, as Gradio's copies are; uploads
are bounded in size, pixels and number; one request is colorized at a time, the others queue;
it listens on 127.0.0.1 unless told otherwise, and a public link needs a password.
"""

import atexit
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from .checkpoint import load_model
from .colorize import colorize_rgb, comparison_strip, output_metadata
from .config import ColorizerError
from .data import image_pixels, read_image
from .devices import get_device
from .files import private_folder
from .models import with_temperature
from .pretrained import shipped_weights

INTRO = ("Upload one or several photos; each keeps its own lightness L\\* and gets predicted "
         "a\\*b\\*. The shipped model was trained on 675 frontal faces at 128 px: other subjects "
         "get face-like colours (its model card says more).")
SHIPPED = "shipped colorizer"
UNREADABLE = "not an image this demo can read"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
CONCURRENCY = 1             # requests colorized at once (2 cores: one at a time, the rest queue)
QUEUE = 32                  # requests waiting at most; more are turned away by Gradio
KEEP_S = 900                # a request's outputs (ours and Gradio's copies) live this long


@dataclass(frozen=True)
class Limits:
    """What one request may upload (docs/usage.md, "Security")."""
    max_file_mb: float = 25         # per file (Gradio refuses larger uploads itself)
    max_pixels: int = 50_000_000    # per image, from its header: ~25 bytes a pixel to colorize
    max_files: int = 16             # per request


def gradio():
    """The gradio module, or one line on how to install it."""
    # no usage statistics sent anywhere: the demo runs on this machine
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    try:
        import gradio
    except ImportError:
        raise ColorizerError('the demo needs Gradio: pip install -e ".[demo]"') from None
    return gradio


def load_models(checkpoints=()):
    """{name: model} of the shipped colorizer and each checkpoint given, loaded (and checked)
    now on the CPU: the names are all a visitor ever sees or sends."""
    models = {SHIPPED: load_model(shipped_weights(), get_device("cpu"))[0]}
    for i, path in enumerate(checkpoints, 1):
        models[f"{i}: {Path(path).parent.name or Path(path).stem}"] = \
            load_model(path, get_device("cpu"))[0]
    return models


def colorize_uploads(paths, model, temperature=None, out_dir=None, limits=Limits(),
                     saturation=1.0, pairs=None):
    """(strips with captions, colorized PNG paths) for uploaded files, written into `out_dir`
    under names of their own; each upload over a limit or unreadable is captioned instead, by
    its own file name (never a server path). `pairs`, a list, receives (grayscale, colorized)
    of each photo, for the before/after slider."""
    model = with_temperature(model, temperature)            # this request's, no one else's
    out_dir = Path(out_dir or tempfile.mkdtemp(prefix="colorizer-demo-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    strips, files = [], []
    paths = [Path(p) for p in paths or []]
    for path, name in zip(paths, output_names(paths)):
        if len(files) + len(strips) >= limits.max_files:
            strips.append(_note(f"{path.name}: not colorized (at most {limits.max_files} "
                                "photos a request)"))
            continue
        refusal = _refusal(path, limits)
        if refusal:
            strips.append(_note(f"{path.name}: {refusal}"))
            continue
        try:
            rgb = read_image(path, limits.max_pixels)
        except ColorizerError:                          # (its message names the server path)
            strips.append(_note(f"{path.name}: {UNREADABLE}"))
            continue
        colorized = colorize_rgb(model, rgb, saturation=saturation)
        files.append(out_dir / name)
        Image.fromarray(colorized).save(files[-1], **output_metadata(path, "demo model"))
        strip = comparison_strip(rgb, colorized)
        strips.append((Image.fromarray(strip), f"{path.name}: grayscale | colorized | original"))
        if pairs is not None:
            pairs.append((strip[:, :colorized.shape[1]], colorized))
    return strips, [str(f) for f in files]


def zip_of(files, out_dir):
    """One zip of the colorized PNGs (None when there are none), for "download all"."""
    import zipfile

    if not files:
        return None
    path = Path(out_dir) / "colorized.zip"
    with zipfile.ZipFile(path, "w") as z:
        for f in files:
            z.write(f, Path(f).name)
    return str(path)


def examples(n=3):
    """A few test faces the repository carries, as clickable examples (their paths)."""
    from .data import BUNDLED, split_names

    names = split_names(sorted(p.name for p in Path(BUNDLED).glob("*.jpg")))[1][:n] \
        if Path(BUNDLED).is_dir() else []
    return [str(Path(BUNDLED) / name) for name in names]


def output_names(paths):
    """A distinct output name for each upload: `a.colorized.png`, or `a.jpg.colorized.png` where
    two uploads share a stem, with a number where they share a whole name."""
    stems = [p.stem for p in paths]
    taken, names = set(), []
    for p in paths:
        base = p.stem if stems.count(p.stem) == 1 else p.name
        name, n = f"{base}.colorized.png", 1
        while name in taken:
            n += 1
            name = f"{base}-{n}.colorized.png"
        taken.add(name)
        names.append(name)
    return names


def _refusal(path, limits):
    """Why an upload is not colorized (None: it is), in words that name no server path."""
    try:
        size_mb = path.stat().st_size / 2**20
    except OSError:
        return "the upload is gone"
    if size_mb > limits.max_file_mb:
        return f"{size_mb:.0f} MB is over the demo's limit of {limits.max_file_mb:g} MB a file"
    pixels = image_pixels(path)
    if pixels > limits.max_pixels:
        return (f"{pixels / 1e6:.0f} MP is over the demo's limit of "
                f"{limits.max_pixels / 1e6:g} MP an image")
    return None if pixels else UNREADABLE


def _note(caption):
    return Image.new("RGB", (8, 8), "white"), caption


class RequestFolders:
    """A private folder for each request below one root of this process, each removed once
    older than `keep_s`, and the root at exit."""

    def __init__(self, keep_s=KEEP_S):
        self.root = private_folder(tempfile.mkdtemp(prefix="colorizer-demo-"))
        self.keep_s = keep_s
        atexit.register(shutil.rmtree, self.root, True)

    def new(self):
        self.sweep()
        return Path(tempfile.mkdtemp(dir=self.root))

    def sweep(self, now=None):
        now = time.time() if now is None else now
        for folder in self.root.iterdir():
            try:
                old = now - folder.stat().st_mtime > self.keep_s
            except OSError:
                continue
            if old:
                shutil.rmtree(folder, ignore_errors=True)


def build_app(models, limits=Limits(), folders=None):
    """The Blocks app: photos and a model's name in, strips and downloads out."""
    gr = gradio()
    folders = folders or RequestFolders()

    def run(photos, name, temperature, saturation):
        if name not in models:                  # the drop-down's names only, whatever is sent
            raise gr.Error("unknown model")
        paths = [getattr(f, "name", f) for f in photos or []]
        folder, pairs = folders.new(), []
        strips, files = colorize_uploads(paths, models[name], temperature, folder, limits,
                                         saturation, pairs)
        return (strips, [*files, *filter(None, [zip_of(files, folder)])],
                pairs[0] if pairs else None, pairs)

    def show(pairs, picked: gr.SelectData):
        """The selected photo's grayscale | colorized on the slider."""
        return pairs[picked.index] if pairs and picked.index < len(pairs) else None

    with gr.Blocks(title="colorizer", delete_cache=(KEEP_S, KEEP_S)) as app:
        gr.Markdown("# colorizer\n" + INTRO + f"\n\nAt most {limits.max_files} photos of "
                    f"{limits.max_file_mb:g} MB and {limits.max_pixels / 1e6:g} MP each.")
        pairs = gr.State([])
        photos, model, saturation, temperature, go = _inputs(gr, models)
        before_after, gallery, downloads = _outputs(gr)
        go.click(run, [photos, model, temperature, saturation],
                 [gallery, downloads, before_after, pairs], api_name="colorize",
                 concurrency_limit=CONCURRENCY)
        gallery.select(show, [pairs], [before_after])
    return app


def _inputs(gr, models):
    """The photos, the model, the two sliders and the button (inside the app's Blocks)."""
    with gr.Row():
        photos = gr.File(label="photos", file_count="multiple", file_types=["image"],
                         elem_id="photos")
        with gr.Column():
            model = gr.Dropdown(list(models), value=SHIPPED, label="model", elem_id="model")
            saturation = gr.Slider(0.0, 2.0, value=1.0, step=0.05, elem_id="saturation",
                                   label="saturation (a gain on the predicted a*b*)")
            temperature = gr.Slider(0.01, 1.0, value=0.38, step=0.01,
                                    label="temperature (classify head only)")
            go = gr.Button("Colorize", variant="primary", elem_id="go")
    if examples():
        gr.Examples([[[p]] for p in examples()], inputs=[photos], label="test faces",
                    elem_id="examples")
    return photos, model, saturation, temperature, go


def _outputs(gr):
    """The before | after slider, the strips and the downloads (inside the app's Blocks)."""
    before_after = gr.ImageSlider(label="before | after (select a photo below)",
                                  elem_id="before-after", type="numpy", format="png")
    gallery = gr.Gallery(label="grayscale | colorized | original", format="png",
                         elem_id="result", columns=1, object_fit="contain", height="auto")
    downloads = gr.File(label="colorized PNGs and colorized.zip", file_count="multiple",
                        elem_id="downloads")
    return before_after, gallery, downloads


def parse_auth(text):
    """"USER:PASSWORD" -> (user, password), or one line saying what is expected."""
    user, sep, password = (text or "").partition(":")
    if not (sep and user and password):
        raise ColorizerError("--auth takes USER:PASSWORD")
    return user, password


def serve(port=7860, checkpoints=(), host="127.0.0.1", share=False, auth=None, limits=Limits()):
    """Start the app on host:port (blocks until stopped). `share` (a public Gradio link) needs
    `auth`; a host other than the loopback is said aloud."""
    if share and not auth:
        raise ColorizerError("--share opens a public link anyone can use: give --auth "
                             "USER:PASSWORD with it")
    if host not in LOOPBACK:
        print(f"colorizer: warning: the demo listens on {host}: anyone who can reach this "
              "machine can use it" + ("" if auth else " (no --auth: without a password)"),
              file=sys.stderr)
    app = build_app(load_models(checkpoints), limits)
    app.queue(default_concurrency_limit=CONCURRENCY, max_size=QUEUE)
    app.launch(server_name=host, server_port=port, share=share,
               auth=parse_auth(auth) if auth else None, max_file_size=f"{limits.max_file_mb}mb",
               show_error=False)
