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
from functools import partial
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch.nn.functional as F
from PIL import Image

from ..checkpoint import load_model
from ..colorize import chroma, colorize_rgb, comparison_strip, output_metadata, paint
from ..config import ColorizerError, DemoLimits
from ..data import image_pixels, lightness, read_image
from ..devices import get_device
from ..files import private_folder
from ..hints import Hint
from ..models import head, with_temperature
from ..quantize import TEMPERATURE
from .pretrained import shipped_weights

INTRO = ("Upload one or several photos; each keeps its own lightness L\\* and gets predicted "
         "a\\*b\\*. The shipped model was trained on 675 frontal faces at 128 px: other subjects "
         "get face-like colours (its model card says more).")
SHIPPED_LABEL = "shipped colorizer"
MAX_HINTS = 64              # points on one photo at most
PREVIEW_PIXELS = 1_000_000  # the hints tab works on a preview of at most this size, then
                            # colorizes the full photo once, for the download
# and shows it at least this long a side, each pixel a square of whole screen pixels: Gradio
# maps a click onto a picture drawn no larger than its own size, so a small photo drawn at its
# own size sat in the middle of its box (a click beside it said nothing)
SHOWN_SIDE = 1024
HINTS_INTRO = ("Upload a photo, then click on the picture where a colour should go: the point "
               "takes the colour below (pick one, or click on a reference photo to take its "
               "colour there), and shows as a small square. Each change colorizes the photo "
               "again (a preview, for a large photo); **full size** writes the whole photo.")
UNREADABLE = "not an image this demo can read"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
CONCURRENCY = 1             # requests colorized at once (2 cores: one at a time, the rest queue)
QUEUE = 32                  # requests waiting at most; more are turned away by Gradio
KEEP_S = 900                # a request's outputs (ours and Gradio's copies) live this long
# Gradio's gallery draws each item in a square tile: a wide grayscale | colorized | original
# strip then sat in the middle of a tall empty band; each tile takes its image's own shape
CSS = """
#result .thumbnail-item { aspect-ratio: auto !important; height: auto !important; }
#result .thumbnail-item img { height: auto !important; }
#result .grid-wrap { min-height: 0 !important; height: auto !important; }
"""


LIMITS = DemoLimits()           # what one request may upload, unless the command line says


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
    models = {SHIPPED_LABEL: load_model(shipped_weights(), get_device("cpu"))[0]}
    for i, path in enumerate(checkpoints, 1):
        models[f"{i}: {Path(path).parent.name or Path(path).stem}"] = \
            load_model(path, get_device("cpu"))[0]
    return models


def colorize_uploads(paths, model, temperature=None, out_dir=None, limits=LIMITS,
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
    from ..data import BUNDLED, split_names

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


def hint_photo(path, limits=LIMITS):
    """A visitor's photo for the hints tab (a state of its own): its L* at preview size (at
    most PREVIEW_PIXELS, antialiased), the file and its full size, no point yet; or one line on
    why it is refused."""
    path = Path(path)
    refusal = _refusal(path, limits)
    if refusal:
        raise ColorizerError(f"{path.name}: {refusal}")
    try:
        rgb = read_image(path, limits.max_pixels)
    except ColorizerError:
        raise ColorizerError(f"{path.name}: {UNREADABLE}") from None
    L = lightness(rgb)
    H, W = L.shape[-2:]
    shrink = min(1.0, (PREVIEW_PIXELS / (H * W)) ** 0.5)
    if shrink < 1:
        L = F.interpolate(L, size=(max(1, int(H * shrink)), max(1, int(W * shrink))),
                          mode="bilinear", antialias=True, align_corners=False)
    return {"L": L, "points": [], "path": str(path), "size": (H, W)}


def full_size(model, state, out_dir, limits=LIMITS):
    """The visitor's photo colorized whole, its points moved from the preview onto it: the
    PNG's path in `out_dir`."""
    rgb = read_image(Path(state["path"]), limits.max_pixels)
    (H, W), (h, w) = rgb.shape[:2], state["L"].shape[-2:]
    hints = [Hint.at(x * W / w, y * H / h, c) for x, y, c in state["points"]]
    path = Path(out_dir) / output_names([Path(state["path"])])[0]
    Image.fromarray(colorize_rgb(model, rgb, hints=hints)).save(path)
    return str(path)


def zoom_of(shape):
    """The whole factor a preview of `shape` (H, W, ...) is shown at (SHOWN_SIDE)."""
    return max(1, SHOWN_SIDE // max(shape[:2]))


def marked(image, points, zoom=1):
    """The (H, W, 3) picture as the tab shows it: each pixel a `zoom` x `zoom` square, each
    point's place drawn, a small square of its colour ringed in white and black (the picture
    itself stays unmarked, for downloads)."""
    out = np.repeat(np.repeat(image, zoom, 0), zoom, 1) if zoom > 1 else image.copy()
    H, W = out.shape[:2]
    r = max(2, round(min(H, W) / 100))
    for x, y, colour in points:
        x, y = x * zoom + zoom // 2, y * zoom + zoom // 2
        for ring, value in ((r + 2, 0), (r + 1, 255)):
            out[max(0, y - ring):y + ring + 1, max(0, x - ring):x + ring + 1] = value
        out[max(0, y - r):y + r + 1, max(0, x - r):x + r + 1] = np.frombuffer(
            bytes.fromhex(colour[1:]), np.uint8)
    return out


def with_point(state, x, y, colour):
    """`state` with one more point (x, y, colour as "#rrggbb"), at most MAX_HINTS; the colour
    normalised from what a colour picker sends (hex, rgb(...) or rgba(...))."""
    colour = hex_colour(colour)
    H, W = state["L"].shape[-2:]
    if not (0 <= x < W and 0 <= y < H) or len(state["points"]) >= MAX_HINTS:
        return state
    return {**state, "points": [*state["points"], (int(x), int(y), colour)]}


def without_points(state, labels):
    """`state` less the points named by `labels` (point_labels'), all of them for None."""
    keep = [] if labels is None else [p for p, label in zip(state["points"],
                                                            point_labels(state))
                                      if label not in labels]
    return {**state, "points": keep}


def point_labels(state):
    return [f"{i}: ({x}, {y}) {c}" for i, (x, y, c) in enumerate(state["points"], 1)]


def recolorize(model, state):
    """(the photo colorized with its points, milliseconds it took): the L* kept in the state,
    only a*b* predicted and painted again."""
    t0 = time.perf_counter()
    hints = [Hint.at(x, y, c) for x, y, c in state["points"]]
    ab = chroma(model, [state["L"]], hints=[hints])
    return paint(state["L"], ab[0]), 1000 * (time.perf_counter() - t0)


def hex_colour(colour):
    """"#rrggbb" of a colour picker's value: "#rrggbb", "#rgb", "rgb(r, g, b)" or
    "rgba(r, g, b, a)" (Gradio's picker has sent each), or one line."""
    text = str(colour or "").strip().lower()
    if text.startswith("rgb"):
        try:
            parts = [float(v) for v in text[text.index("(") + 1:text.rindex(")")].split(",")]
        except ValueError:
            parts = []
        if len(parts) in (3, 4):
            return "#" + "".join(f"{round(min(max(v, 0), 255)):02x}" for v in parts[:3])
    elif len(text) == 4 and text.startswith("#"):
        text = "#" + "".join(ch * 2 for ch in text[1:])
    if len(text) == 7 and text.startswith("#") and all(c in "0123456789abcdef" for c in text[1:]):
        return text
    raise ColorizerError(f"not a colour: {colour!r}")


def pixel_hex(rgb, x, y):
    """"#rrggbb" of the pixel (x, y) of an (H, W, 3) image (a reference photo clicked)."""
    r, g, b = (int(v) for v in rgb[int(y), int(x), :3])
    return f"#{r:02x}{g:02x}{b:02x}"


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


def build_app(models, limits=LIMITS, folders=None):
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
        with gr.Tab("colorize photos", elem_id="photos-tab"):
            pairs = gr.State([])
            photos, model, saturation, temperature, go = _inputs(gr, models)
            before_after, gallery, downloads = _outputs(gr)
            go.click(run, [photos, model, temperature, saturation],
                     [gallery, downloads, before_after, pairs], api_name="colorize",
                     concurrency_limit=CONCURRENCY)
            gallery.select(show, [pairs], [before_after])
            # the temperature slider only for a model it means something for
            model.change(lambda name: gr.update(visible=_has_temperature(models.get(name))),
                         [model], [temperature], api_name=False)
        hinted = {name: m for name, m in models.items() if m.kind == "colorizer"}
        if hinted:
            with gr.Tab("colour hints", elem_id="hints-tab"):
                _hints_tab(gr, hinted, limits, folders)
    return app


def _has_temperature(model):
    return model is not None and head(model.head).decodes_at_temperature


def _hints_tab(gr, models, limits, folders):
    """The photo, its result to click on (the points marked), the colour (picker or reference
    photo), the points (removable, cleared in one click), the time each re-colorize took, and the
    full-size download; the photo's L* and points are the visitor's own state."""
    gr.Markdown(HINTS_INTRO)
    ui = _hints_layout(gr, models)
    shown = [ui.state, ui.result, ui.points, ui.timing]
    show = partial(_show_hinted, gr, models)

    def add(st, colour, model_name, picked: gr.SelectData):    # a click on the shown picture:
        if st is None:                                          # a point at the photo's pixel
            return show(st, model_name)
        zoom = zoom_of(st["L"].shape[-2:])
        return show(with_point(st, *(v // zoom for v in picked.index), colour), model_name)

    def pick(image, picked: gr.SelectData):                     # on the reference: its colour
        return pixel_hex(image, *picked.index) if image is not None else gr.update()

    run = dict(concurrency_limit=CONCURRENCY, api_name=False)
    ui.photo.change(partial(_load_hinted, show, limits), [ui.photo, ui.name], shown, **run)
    ui.result.select(add, [ui.state, ui.colour, ui.name], shown, **run)
    ui.reference.select(pick, [ui.reference], [ui.colour], api_name=False)
    ui.remove.click(lambda st, ticked, n: show(st and without_points(st, ticked), n),
                    [ui.state, ui.points, ui.name], shown, **run)
    ui.clear.click(lambda st, n: show(st and without_points(st, None), n), [ui.state, ui.name],
                   shown, **run)
    ui.name.change(show, [ui.state, ui.name], shown, **run)
    ui.whole.click(lambda st, n: None if st is None else full_size(models[n], st, folders.new(),
                                                                   limits),
                   [ui.state, ui.name], [ui.download], **run)


def _hints_layout(gr, models):
    """The hints tab's components, laid out: the photo and the colour beside the result, then the
    model and the points beside the timing and the full-size download."""
    ui = SimpleNamespace(state=gr.State(None))
    with gr.Row():
        with gr.Column(scale=1):
            ui.photo = gr.File(label="photo", file_types=["image"], elem_id="hint-photo")
            ui.colour = gr.ColorPicker("#d02020", label="colour of the next point",
                                       elem_id="hint-colour")
            ui.reference = gr.Image(type="numpy", label="reference photo: click to take its "
                                    "colour", sources=["upload"], elem_id="hint-reference",
                                    height=200)
        ui.result = gr.Image(type="numpy", label="colorized: click where a colour should go",
                             interactive=False, elem_id="hint-result", format="png", height=420,
                             scale=2)
    with gr.Row():
        with gr.Column():
            ui.name = gr.Dropdown(list(models), value=next(iter(models)), label="model",
                                  elem_id="hint-model")
            ui.points = gr.CheckboxGroup([], label="points (tick, then remove)",
                                         elem_id="hint-points")
            with gr.Row():
                ui.remove = gr.Button("remove ticked", elem_id="hint-remove")
                ui.clear = gr.Button("clear all", elem_id="hint-clear")
        with gr.Column():
            ui.timing = gr.Markdown(elem_id="hint-timing")
            ui.whole = gr.Button("full size", elem_id="hint-full")
            ui.download = gr.File(label="the whole photo, colorized", elem_id="hint-download")
    return ui


def _show_hinted(gr, models, st, model_name, note=""):
    """(state, the result with its points marked, the point list, the timing line) of `st`."""
    if st is None:
        return None, None, gr.update(choices=[], value=[]), note
    image, ms = recolorize(models[model_name], st)
    (h, w), (H, W) = st["L"].shape[-2:], st["size"]
    size = f"{W} x {H}" + (f", preview {w} x {h}" if (h, w) != (H, W) else "")
    return (st, marked(image, st["points"], zoom_of(image.shape)),
            gr.update(choices=point_labels(st), value=[]),
            f"re-colorized in {ms:.0f} ms ({size}, points: {len(st['points'])})")


def _load_hinted(show, limits, upload, model_name):
    """A new photo shown, or one line where the timing goes when it cannot be read."""
    if not upload:
        return show(None, model_name)
    try:
        return show(hint_photo(getattr(upload, "name", upload), limits), model_name)
    except ColorizerError as e:
        return show(None, model_name, f"**{e}**")


def _inputs(gr, models):
    """The photos, the model, the two sliders and the button (inside the app's Blocks)."""
    with gr.Row():
        photos = gr.File(label="photos", file_count="multiple", file_types=["image"],
                         elem_id="photos")
        with gr.Column():
            model = gr.Dropdown(list(models), value=SHIPPED_LABEL, label="model", elem_id="model")
            saturation = gr.Slider(0.0, 2.0, value=1.0, step=0.05, elem_id="saturation",
                                   label="saturation (a gain on the predicted a*b*)")
            temperature = gr.Slider(0.01, 1.0, value=TEMPERATURE, step=0.01,
                                    label="temperature (classify head only)",
                                    visible=_has_temperature(models[SHIPPED_LABEL]),
                                    elem_id="temperature")
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


def serve(port=7860, checkpoints=(), host="127.0.0.1", share=False, auth=None,
          limits=LIMITS):
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
               show_error=False, css=CSS)
