"""Model folders, the layout the field publishes in (Hugging Face's): `config.json` (the
settings), `model.safetensors` (int8 with a scale per output channel, as shipped, or float32),
`README.md` (the model card, its YAML block first). The shipped model is one such folder inside
the package (colorizer/weights/).

    save_pretrained(model, "my-colorizer")       # any model the package built or loaded
    model = from_pretrained("my-colorizer")      # a folder, or a Hub repo id (needs a network)

Loading checks what it reads as every checkpoint is checked (checkpoint.load_model); a repo id is
fetched with huggingface_hub (optional: `pip install huggingface_hub`, which the demo extra
brings) into its cache, and fails on one line without a network.
"""

from pathlib import Path

import torch

from ..checkpoint import MODEL_FILE, load_model
from ..config import ColorizerError, Config, read_settings_file
from ..files import write_json
from ..packing import compact, write_shipped

CONFIG_FILE, CARD_FILE = "config.json", "README.md"       # beside checkpoint.MODEL_FILE


def save_pretrained(model: torch.nn.Module, folder: str | Path, facts: dict | None = None,
                    int8: bool = True, card: str | None = None) -> Path:
    """Write `model` as a model folder: its settings (the Config it was built from), its weights
    (int8 as shipped, or float32 with `int8=False`), and a card (`card`'s text, else a short one
    of the settings). `facts`: more of what is known of it (split, training mean, history)."""
    cfg = getattr(model, "config", None)
    if not isinstance(cfg, Config):
        raise ColorizerError("save_pretrained takes a model built by colorizer (build_model, "
                             "load_model, from_pretrained): it carries its settings")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    write_shipped(folder / MODEL_FILE, compact(state) if int8 else state,
                  {"config": cfg.to_dict(), **(facts or {})})
    write_json(folder / CONFIG_FILE, cfg.to_dict())
    (folder / CARD_FILE).write_text(card if card is not None else default_card(cfg))
    return folder


def from_pretrained(folder_or_repo_id: str | Path,
                    device: str | torch.device | None = None) -> torch.nn.Module:
    """The model of a model folder (or of a Hub repo id, fetched once into huggingface_hub's
    cache), in eval mode on `device` (default: CUDA if present, else CPU)."""
    folder = Path(folder_or_repo_id)
    if not folder.is_dir():
        folder = _fetch(str(folder_or_repo_id))
    weights = folder / MODEL_FILE
    if not weights.is_file():
        raise ColorizerError(f"{folder} is not a model folder: it has no {MODEL_FILE}")
    stated = folder / CONFIG_FILE
    cfg = _read_config(stated) if stated.exists() else None        # read before the weights
    model, ckpt = load_model(weights, device)
    if cfg is not None and cfg != Config.from_dict(ckpt["config"]):
        raise ColorizerError(f"{stated} does not describe the model in {weights}")
    return model


def default_card(cfg):
    """A model card for a model folder with no card of its own: the Hub's YAML block, the
    settings, and how to load it."""
    return "\n".join([*card_metadata(), "", "# colorizer model", "",
                      f"A {cfg.model} with a {cfg.head} head, widths {cfg.widths}, trained "
                      f"{cfg.epochs} epochs ({cfg.image_size} px). Load it with "
                      "`colorizer.from_pretrained(FOLDER)`; the settings are in config.json.",
                      ""])


def card_metadata(results=()):
    """The YAML block the Hugging Face Hub reads, its `model-index` from `results` ((type, name,
    value) of figures measured on the face set's test split); the data set is no Hub data set,
    so its provenance is in the card's text, not in a `datasets:` id."""
    lines = ["---", "license: mit", "library_name: pytorch", "pipeline_tag: image-to-image",
             "tags: [image-colorization, cielab, pytorch]"]
    if results:
        lines += ["metrics: [" + ", ".join(t for t, _, _ in results) + "]", "model-index:",
                  "- name: colorizer", "  results:",
                  "  - task: {type: image-to-image, name: image colorization}",
                  "    dataset: {type: image-folder, name: face_images (750 faces, MIT; "
                  "the repository's face_images/), split: seed-0 test}",
                  "    metrics:",
                  *(f"    - {{type: {t}, name: {n}, value: {v}}}" for t, n, v in results)]
    return [*lines, "---"]


def _read_config(path):
    return Config.from_dict(read_settings_file(path))


def _fetch(repo_id):
    """A Hub repo's files in huggingface_hub's cache, or one line on why not."""
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise ColorizerError(f"{repo_id} is no folder here; loading a Hub repo id needs "
                             "huggingface_hub: pip install huggingface_hub") from None
    try:
        return Path(snapshot_download(repo_id, allow_patterns=[CONFIG_FILE, MODEL_FILE, CARD_FILE]))
    except Exception as e:          # huggingface_hub raises many kinds: network, auth, name
        raise ColorizerError(f"cannot fetch {repo_id} from the Hugging Face Hub "
                             f"({type(e).__name__}: no network here, or no such repo)") from None
