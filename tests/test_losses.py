"""Training losses for FastRealVSR's stages: pixel, perceptual (VGG-19 / fallback), GAN."""

from __future__ import annotations

import pytest
import torch

from freqvsr.errors import ModelError
from freqvsr.losses.gan import GANLoss, UNetDiscriminatorSN, gan_loss
from freqvsr.losses.perceptual import (
    REAL_ESRGAN_LAYER_WEIGHTS,
    LaplacianPyramidLoss,
    PerceptualLoss,
    VGG19Features,
    vgg19_layer_names,
)
from freqvsr.losses.pixel import CharbonnierLoss, L1Loss, charbonnier_loss, l1_loss

# --- pixel ----------------------------------------------------------------------------------------


def test_l1_and_charbonnier_values_and_reductions():
    a = torch.tensor([[0.0, 1.0], [0.5, 0.25]])
    b = torch.tensor([[0.0, 0.0], [1.0, 0.25]])
    assert torch.isclose(l1_loss(a, b), torch.tensor(1.5 / 4))
    assert torch.isclose(l1_loss(a, b, reduction="sum"), torch.tensor(1.5))
    assert l1_loss(a, b, reduction="none").shape == (2, 2)
    # Charbonnier: sqrt(d^2 + eps^2) -> eps where equal, ~|d| elsewhere
    c = charbonnier_loss(a, b, reduction="none")
    torch.testing.assert_close(c, torch.tensor([[1e-6, 1.0], [0.5, 1e-6]]))
    assert float(CharbonnierLoss(eps=1e-6)(a, a)) == pytest.approx(1e-6)
    # a weight mask averages over the kept elements only
    m = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    assert torch.isclose(L1Loss(loss_weight=2.0)(a, b, m), torch.tensor(2.0 * 1.5 / 2))
    with pytest.raises(ValueError, match="same shape"):
        l1_loss(a, b[:1])
    # differentiable at zero difference (L1's gradient there is arbitrary, Charbonnier's is 0)
    x = a.clone().requires_grad_(True)
    charbonnier_loss(x, a).backward()
    assert torch.equal(x.grad, torch.zeros_like(a))


# --- perceptual -----------------------------------------------------------------------------------


def _torchvision_vgg19_state(seed: int = 0, upto: int = 36) -> dict[str, torch.Tensor]:
    """A random state dict with torchvision's vgg19 keys and shapes (features.N.*, classifier.*)."""
    g = torch.Generator().manual_seed(seed)
    state, cin = {}, 3
    for i, name in enumerate(vgg19_layer_names()):
        if name.startswith("conv") and i <= upto:
            cout = (
                64
                if name.startswith("conv1")
                else 128
                if name.startswith("conv2")
                else 256
                if name.startswith("conv3")
                else 512
            )
            # He-scaled so activations stay O(1) through the stack
            state[f"features.{i}.weight"] = torch.randn(cout, cin, 3, 3, generator=g) * (2.0 / (9 * cin)) ** 0.5
            state[f"features.{i}.bias"] = torch.zeros(cout)
            cin = cout
    state["classifier.0.weight"] = torch.zeros(4, 4)  # extra keys are ignored
    return state


def test_vgg19_layer_indices_match_torchvision():
    names = vgg19_layer_names()
    assert len(names) == 37
    assert names[0] == "conv1_1" and names[2] == "conv1_2" and names[4] == "pool1"
    assert {n: names.index(n) for n in REAL_ESRGAN_LAYER_WEIGHTS} == {
        "conv1_2": 2,
        "conv2_2": 7,
        "conv3_4": 16,
        "conv4_4": 25,
        "conv5_4": 34,
    }
    vgg = VGG19Features(["conv2_2"])
    assert sorted(vgg.state_dict()) == [
        "features.0.bias",
        "features.0.weight",
        "features.2.bias",
        "features.2.weight",
        "features.5.bias",
        "features.5.weight",
        "features.7.bias",
        "features.7.weight",
    ]


def test_vgg_perceptual_loss_loads_torchvision_layout(tmp_path):
    state = _torchvision_vgg19_state()
    path = tmp_path / "vgg19.pth"
    torch.save(state, path)
    loss = PerceptualLoss(vgg_path=path)  # Real-ESRGAN's five layers, up to conv5_4
    assert loss.kind == "vgg19"
    assert torch.equal(loss.vgg.features[34].weight, state["features.34.weight"])
    assert not any(p.requires_grad for p in loss.vgg.parameters())
    torch.manual_seed(0)
    x = torch.rand(1, 3, 32, 32)
    assert float(loss(x, x)) == 0.0
    y = (x + 0.1 * torch.randn_like(x)).clamp(0, 1).requires_grad_(True)
    value = loss(y, x)
    assert float(value.detach()) > 0
    value.backward()
    assert y.grad is not None and y.grad.abs().sum() > 0
    assert all(p.grad is None for p in loss.vgg.parameters())
    # layer weights are honoured: conv1_2 alone with weight 0.1 is 0.1 x its L1 distance
    shallow = PerceptualLoss(vgg_path=path, layer_weights={"conv1_2": 0.1})
    feats = shallow.vgg(torch.cat([y.detach(), x]))["conv1_2"]
    expect = 0.1 * (feats[0] - feats[1]).abs().mean()
    torch.testing.assert_close(shallow(y.detach(), x), expect, atol=1e-6, rtol=1e-5)


def test_vgg_perceptual_loss_errors_name_the_file(tmp_path):
    with pytest.raises(ModelError, match=r"nothere\.pth does not exist"):
        PerceptualLoss(vgg_path=tmp_path / "nothere.pth")
    wrong = tmp_path / "wrong.pth"
    torch.save({"conv.weight": torch.zeros(1)}, wrong)
    with pytest.raises(ModelError, match=r"wrong\.pth does not have torchvision's layout: missing features\.0\.weight"):
        PerceptualLoss(vgg_path=wrong, layer_weights={"conv1_2": 1.0})
    shapes = tmp_path / "shapes.pth"
    bad = _torchvision_vgg19_state(upto=2)
    bad["features.2.weight"] = torch.zeros(64, 32, 3, 3)
    torch.save(bad, shapes)
    with pytest.raises(ModelError, match=r"shapes\.pth has wrong shapes: features\.2\.weight"):
        PerceptualLoss(vgg_path=shapes, layer_weights={"conv1_2": 1.0})
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a pickle")
    with pytest.raises(ModelError, match=r"garbage\.pth cannot be read"):
        PerceptualLoss(vgg_path=garbage, layer_weights={"conv1_2": 1.0})
    # `vgg.features.state_dict()` saved alone ("0.weight") is the same layout
    bare = tmp_path / "bare.pth"
    torch.save(
        {
            k.removeprefix("features."): v
            for k, v in _torchvision_vgg19_state(upto=2).items()
            if k.startswith("features.")
        },
        bare,
    )
    assert PerceptualLoss(vgg_path=bare, layer_weights={"conv1_2": 1.0}).kind == "vgg19"


def test_fallback_laplacian_loss_without_weights():
    loss = PerceptualLoss()
    assert loss.kind == "laplacian" and not list(loss.parameters())
    torch.manual_seed(0)
    x = torch.rand(2, 3, 40, 36)
    assert float(loss(x, x)) == 0.0
    # a constant offset lives only in the low-pass band (weight 2^-5); white noise of the same
    # pixel L1 lives mostly in the finest band (weight 1): fine detail counts far more
    offset = x + 0.05
    noise = x + 0.05 * torch.sign(torch.randn_like(x))
    assert torch.isclose(l1_loss(offset, x), l1_loss(noise, x))
    assert float(loss(offset, x)) == pytest.approx(0.05 / 32, rel=1e-4)
    assert float(loss(noise, x)) > 20 * float(loss(offset, x))
    y = noise.clone().requires_grad_(True)
    loss(y, x).backward()
    assert y.grad.abs().sum() > 0
    # the pyramid reconstructs: bands of a tiny image stop at 1 pixel
    assert len(LaplacianPyramidLoss(levels=5).bands(torch.rand(1, 1, 3, 3))) == 3


# --- GAN ------------------------------------------------------------------------------------------


def test_unet_discriminator_shape_gradients_and_spectral_norm():
    torch.manual_seed(0)
    d = UNetDiscriminatorSN(num_feat=8)
    x = torch.rand(2, 3, 30, 34, requires_grad=True)
    out = d(x)
    assert out.shape == (2, 1, 30, 34)
    GANLoss("vanilla")(out, True, is_disc=True).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    no_grad = [n for n, p in d.named_parameters() if p.grad is None]
    assert not no_grad, no_grad
    assert "conv1.weight_orig" in d.state_dict() and "conv0.weight_orig" not in d.state_dict()
    # spectral norm: the effective weight's largest singular value is ~1 after a few power steps
    for _ in range(20):
        d(torch.rand(1, 3, 16, 16))
    w = d.conv3.weight.detach().flatten(1)
    assert torch.linalg.matrix_norm(w, ord=2) == pytest.approx(1.0, abs=0.05)
    assert sum(p.numel() for p in UNetDiscriminatorSN().parameters()) == 4_376_897


@pytest.mark.parametrize("kind", ["vanilla", "lsgan", "hinge"])
def test_gan_losses_push_the_right_way(kind):
    logits = torch.full((4, 1, 5, 5), 0.5, requires_grad=True)
    # discriminator on real images: the loss falls when the logits rise
    gan_loss(logits, True, is_disc=True, kind=kind).backward()
    assert (logits.grad < 0).all()
    logits.grad = None
    gan_loss(logits, False, is_disc=True, kind=kind).backward()
    assert (logits.grad > 0).all()
    logits.grad = None
    # generator: wants the discriminator to call its output real; weight applies to it only
    g = GANLoss(kind, loss_weight=0.05)
    g(logits, True).backward()
    assert (logits.grad < 0).all()
    assert torch.isclose(g(logits, True), 0.05 * gan_loss(logits, True, is_disc=False, kind=kind))
    assert torch.isclose(g(logits, False, is_disc=True), gan_loss(logits, False, is_disc=True, kind=kind))
    if kind == "vanilla":
        assert float(gan_loss(torch.zeros(1), True, is_disc=True)) == pytest.approx(0.6931, abs=1e-4)
    with pytest.raises(ValueError, match="kind"):
        GANLoss("wgan")


def test_stage2_step_trains_generator_and_discriminator():
    """FastRealVSR stage 2: L1 + perceptual (fallback) + 5e-2 GAN on the generator; D on real/fake."""
    from freqvsr.models import create_model
    from freqvsr.models import fastrealvsr as _fastrealvsr  # noqa: F401  (registers the entries)

    torch.manual_seed(0)
    gen = create_model("fastrealvsr.tiny", weights=None)
    disc = UNetDiscriminatorSN(num_feat=8)
    lq, hr = torch.rand(1, 2, 3, 12, 12), torch.rand(1, 2, 3, 48, 48)
    pix, perc, gan = L1Loss(), PerceptualLoss(), GANLoss("vanilla", loss_weight=5e-2)
    sr = gen(lq).flatten(0, 1)
    target = hr.flatten(0, 1)
    g_loss = pix(sr, target) + perc(sr, target) + gan(disc(sr), True)
    g_loss.backward()
    assert all(p.grad is not None for p in gen.parameters())
    disc.zero_grad()
    d_loss = gan(disc(target), True, is_disc=True) + gan(disc(sr.detach()), False, is_disc=True)
    d_loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in disc.parameters())
