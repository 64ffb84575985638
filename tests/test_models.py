import pytest
import torch

from colorizer import ARCHS, Colorizer, Config, Regressor, build_model, decode_ab, encode_ab
from colorizer.config import ColorizerError
from colorizer.models import Down, Up, loss_fn, target

RANGES = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0)}


@pytest.mark.parametrize("arch", sorted(ARCHS))
@pytest.mark.parametrize("head", sorted(RANGES))
def test_colorizer_shape_and_range(arch, head):
    model = Colorizer(widths=ARCHS[arch], head=head, ab_stride=1)      # the study's full side
    y = model(torch.rand(2, 1, 128, 128) * 100)
    assert y.shape == (2, 2, 128, 128)
    lo, hi = RANGES[head]
    assert torch.isfinite(y).all() and y.min() >= lo and y.max() <= hi


@pytest.mark.parametrize("arch", sorted(ARCHS))
@pytest.mark.parametrize("head", sorted(RANGES))
def test_regressor_shape_and_range(arch, head):
    model = Regressor(widths=ARCHS[arch], head=head)
    y = model(torch.rand(3, 1, 128, 128) * 100)
    assert y.shape == (3, 2)
    lo, hi = RANGES[head]
    assert torch.isfinite(y).all() and y.min() >= lo and y.max() <= hi


def test_encoder_reaches_1x1():
    model = Colorizer(widths=ARCHS[1], stem="conv")
    z = model.encoder(torch.zeros(2, 1, 128, 128))
    assert z.shape == (2, 512, 1, 1)
    convs = [m for m in model.encoder if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 7
    assert all((c.kernel_size, c.stride, c.padding) == ((4, 4), (2, 2), (1, 1)) for c in convs)



@pytest.mark.parametrize("layer, plain, side", [(Down, torch.nn.Conv2d, 2),
                                                (Down, torch.nn.Conv2d, 4),
                                                (Up, torch.nn.ConvTranspose2d, 1),
                                                (Up, torch.nn.ConvTranspose2d, 2)])
def test_bottleneck_products_equal_the_convolutions(layer, plain, side):
    """Down on 2x2 and Up on 1x1 take a matrix-product path: same outputs and gradients."""
    torch.manual_seed(0)
    fast, ref = layer(6, 5, bias=True), plain(6, 5, 4, 2, 1, bias=True)
    ref.load_state_dict(fast.state_dict())
    x = torch.randn(3, 6, side, side, requires_grad=True)
    y, y_ref = fast(x), ref(x)
    assert y.shape == y_ref.shape
    torch.testing.assert_close(y, y_ref, rtol=1e-5, atol=1e-6)
    g = torch.randn_like(y)
    grads = torch.autograd.grad(y, [x, fast.weight, fast.bias], g)
    grads_ref = torch.autograd.grad(y_ref, [x, ref.weight, ref.bias], g)
    for a, b in zip(grads, grads_ref):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["colorizer", "regressor"])
@pytest.mark.parametrize("head", sorted(RANGES))
def test_every_parameter_gets_a_gradient(kind, head):
    model = build_model(Config(model=kind, head=head))
    out = model(torch.rand(4, 1, 128, 128) * 100)
    out.square().mean().backward()
    for name, p in model.named_parameters():
        if name.startswith("spread."):        # the hint part: fitted apart (research.hint_fit)
            assert p.grad is None and not p.requires_grad, name
        else:
            assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("head", sorted(RANGES))
def test_head_scaling_round_trip(head):
    ab = torch.linspace(-110, 110, 444).reshape(1, 2, 3, -1)
    assert torch.allclose(decode_ab(encode_ab(ab, head), head), ab, atol=1e-4)
    lo, hi = RANGES[head]
    y = encode_ab(ab, head)
    assert y.min() > lo and y.max() < hi      # the whole sRGB a*b* range fits inside the head


def test_regressor_target_is_mean_ab():
    ab = torch.randn(2, 2, 8, 8) * 20
    t = target(ab, "regressor", "tanh")
    assert torch.allclose(decode_ab(t, "tanh"), ab.mean(dim=(2, 3)), atol=1e-4)


def test_image_size_follows_from_the_widths():
    assert Config(widths=(4, 8, 8)).image_size == 16
    assert Config(widths=ARCHS[1]).image_size == Config(widths=ARCHS[2]).image_size == 128
    model = build_model(Config(widths=(4, 8, 8)))
    assert model.encoder(torch.zeros(2, 1, 16, 16)).shape == (2, 8, 1, 1)


@pytest.mark.parametrize("stride", [2, 4])
def test_ab_stride_predicts_at_a_lower_side_and_decodes_at_the_full_one(stride):
    model = build_model(Config(ab_stride=stride)).eval()
    L = torch.rand(2, 1, 128, 128) * 100
    out = model(L)
    assert out.shape == (2, 2, 128 // stride, 128 // stride)
    ab = model.decode(out, L.shape[-2:])
    assert ab.shape == (2, 2, 128, 128)
    low = decode_ab(out, "sigmoid")
    torch.testing.assert_close(ab, torch.nn.functional.interpolate(
        low, size=(128, 128), mode="bilinear", align_corners=False))
    torch.testing.assert_close(model.decode(out), ab)        # its own side times the stride
    # the decoder stops short: no map of more than 128 / stride px is ever computed
    sides = []
    for m in model.decoder:
        m.register_forward_hook(lambda m, i, o: sides.append(o.shape[-1]))
    model(L)
    assert max(sides) == 128 // stride


def test_ab_stride_is_scored_against_the_targets_block_means():
    model = build_model(Config(ab_stride=2))
    ab = torch.randn(3, 2, 8, 8) * 30
    out = torch.rand(3, 2, 4, 4)
    expected = torch.nn.functional.mse_loss(
        out, encode_ab(torch.nn.functional.avg_pool2d(ab, 2), "sigmoid"))
    torch.testing.assert_close(loss_fn(model, out, ab), expected)


def test_the_constructors_default_to_configs_settings():
    assert [n for n, _ in Colorizer().named_parameters()] == [
        n for n, _ in build_model(Config()).named_parameters()]
    model = Colorizer()
    assert (model.head, model.stride) == (Config().head, Config().ab_stride)
    acts = [m for m in Regressor().encoder if isinstance(m, (torch.nn.ReLU, torch.nn.LeakyReLU))]
    assert acts and all(isinstance(m, torch.nn.LeakyReLU) for m in acts)


def test_ab_stride_one_is_the_studys_decoder():
    model = build_model(Config(ab_stride=1))
    last = model.decoder[-2]
    assert (last.in_channels, last.out_channels) == (Config().widths[0], 2)
    assert model(torch.rand(2, 1, 128, 128) * 100).shape == (2, 2, 128, 128)
    plain = Colorizer(widths=ARCHS[2], ab_stride=1)   # (the other settings: Config's defaults)
    assert [n for n, _ in plain.named_parameters()] == [n for n, _ in model.named_parameters()]


@pytest.mark.parametrize("model_kind", ["colorizer", "regressor"])
def test_the_space_to_depth_stem_folds_the_first_two_halvings_into_one_dense_layer(model_kind):
    cfg = Config(model=model_kind, stem="space_to_depth")
    model = build_model(cfg)
    fold, conv = model.encoder[0], model.encoder[1]
    assert isinstance(fold, torch.nn.PixelUnshuffle) and fold.downscale_factor == 4
    assert (conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride) == (
        16, cfg.widths[1], (3, 3), (1, 1))
    sides = []
    for m in model.encoder:
        m.register_forward_hook(lambda m, i, o: sides.append(o.shape[-1]))
    out = model(torch.rand(2, 1, 128, 128) * 100)
    assert min(s for s in sides) == 1 and 64 not in sides     # no map at half the side
    assert out.shape == ((2, 2, 32, 32) if model_kind == "colorizer" else (2, 2))
    out.square().mean().backward()
    for name, p in model.named_parameters():
        if name.startswith("spread."):        # the hint part: fitted apart (research.hint_fit)
            assert p.grad is None and not p.requires_grad, name
        else:
            assert p.grad is not None and p.grad.abs().sum() > 0, name
    # the conv stem's first layer is the study's: 1 channel in, k=4, s=2 at 64 px
    first = build_model(Config(model=model_kind, stem="conv")).encoder[0]
    assert (first.in_channels, first.kernel_size, first.stride) == (1, (4, 4), (2, 2))


@pytest.mark.parametrize("side", [128, 256])
def test_the_stems_input_side_is_the_training_side(side):
    from colorizer.models import input_side

    for stem in ("conv", "space_to_depth"):
        model = build_model(Config(stem=stem, image_size=side))
        assert input_side(model) == side
        assert model.encoder(torch.zeros(2, 1, side, side)).shape[-1] == 1


def test_the_space_to_depth_stem_needs_a_second_width_to_fold_into():
    with pytest.raises(ColorizerError, match="--stem takes conv"):
        Config(stem="space_to_depth", widths=(8,))


def test_a_model_of_a_removed_experiment_is_refused_on_one_line():
    """A checkpoint saved with a removed setting whose model this code cannot build (--fusion 8,
    --skips add or concat, --activation relu, --stem-init whiten) is refused, naming the option
    and the version; the other removed settings are dropped."""
    for removed, version in [({"fusion": 8}, "0.7.0"), ({"skips": "add"}, "0.7.0"),
                             ({"skips": "concat"}, "0.10.0"), ({"activation": "relu"}, "0.10.0"),
                             ({"stem_init": "whiten"}, "0.11.0")]:
        with pytest.raises(ColorizerError, match=f"--{next(iter(removed))} .* removed in .*"
                                                 f"{version}"):
            Config.from_dict({**Config().to_dict(), **removed})
    old = {**Config().to_dict(), "ema": 0.999, "fused": False, "warmup": 0.2, "fusion": 0,
           "skips": "none", "activation": "leaky_relu", "cache_dir": "/somewhere",
           "stem_init": "random"}
    assert Config.from_dict(old) == Config()

