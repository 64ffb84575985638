"""torch.hub entry points: `torch.hub.load("owner/colorizer", "colorizer")`, or from a checkout,
`torch.hub.load(PATH, "colorizer", source="local")` (the shipped model, nothing downloaded)."""

dependencies = ["torch", "numpy", "skimage", "safetensors"]


def colorizer(pretrained=True, device="cpu"):
    """The shipped colorizer in eval mode (pretrained=True), or that model's architecture with
    fresh weights."""
    import torch

    from colorizer import build_model
    from colorizer.serving.hub import from_pretrained
    from colorizer.serving.pretrained import SHIPPED_DIR

    model = from_pretrained(SHIPPED_DIR, torch.device(device))
    if not pretrained:
        model = build_model(model.config).to(device)
    return model
