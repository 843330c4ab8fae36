"""FCVSR unit tests on tiny sizes: the building blocks against brute force, the model contract,
gradients, the official key mapping and the complexity figures."""

from __future__ import annotations

import pytest
import torch

from freqvsr.errors import ModelError, UsageError
from freqvsr.functional.flow import flow_warp
from freqvsr.layers.adaptive_conv import adaptive_conv_cascade, separable_adaptive_conv
from freqvsr.layers.motion_alignment import MotionGuidedAlignment, spectral_correlation
from freqvsr.models._registry import get_spec, list_models
from freqvsr.models.fcvsr import FCVSR

TINY = get_spec("fcvsr.tiny").args


def _tiny(**overrides) -> FCVSR:
    torch.manual_seed(0)
    return FCVSR(**{**TINY, **overrides})


# -- building blocks -------------------------------------------------------------------------------


def test_separable_conv_matches_brute_force():
    torch.manual_seed(0)
    b, c, h, w, k = 1, 2, 5, 5, 3
    x = torch.randn(b, c, h, w)
    kv = torch.randn(b, c * k, h, w)
    kh = torch.randn(b, c * k, h, w)

    def clamp(i: int, n: int) -> int:  # replicated borders
        return min(max(i, 0), n - 1)

    v = torch.zeros_like(x)
    ref = torch.zeros_like(x)
    for ch in range(c):
        for y in range(h):
            for xx in range(w):
                v[0, ch, y, xx] = sum(x[0, ch, clamp(y + t - 1, h), xx] * kv[0, ch * k + t, y, xx] for t in range(k))
    for ch in range(c):
        for y in range(h):
            for xx in range(w):
                ref[0, ch, y, xx] = sum(v[0, ch, y, clamp(xx + t - 1, w)] * kh[0, ch * k + t, y, xx] for t in range(k))
    torch.testing.assert_close(separable_adaptive_conv(x, kv, kh), ref, atol=1e-5, rtol=0)


def test_cascade_uses_k1_twice_by_default():
    torch.manual_seed(0)
    c, k, n = 3, 3, 2
    x = torch.randn(1, c, 8, 8)
    offsets = [torch.randn(1, 2, 8, 8) for _ in range(n)]
    kernels = torch.randn(1, 2 * n * c * k, 8, 8)
    no_k2 = kernels.clone()
    for i in range(n):
        no_k2[:, 2 * c * k * i + c * k : 2 * c * k * (i + 1)] = 0
    official = adaptive_conv_cascade(x, offsets, kernels, c, k)
    assert torch.equal(official, adaptive_conv_cascade(x, offsets, no_k2, c, k))  # K2 is never read
    paper = adaptive_conv_cascade(x, offsets, kernels, c, k, horizontal_kernel=True)
    assert (paper - official).abs().max() > 1e-2


def test_flow_warp_convention():
    x = torch.arange(20.0).view(1, 1, 4, 5)
    assert torch.equal(flow_warp(x, torch.zeros(1, 2, 4, 5)), x)
    shifted = flow_warp(x, torch.cat((torch.ones(1, 1, 4, 5), torch.zeros(1, 1, 4, 5)), 1))
    torch.testing.assert_close(shifted[..., :4], x[..., 1:])  # +1 in x samples the right neighbour
    assert torch.equal(shifted[..., 4], torch.zeros(1, 1, 4))  # zero padding outside


def test_spectral_correlation_is_a_fixed_gather():
    torch.manual_seed(0)
    b, d, h, wf = 1, 8, 5, 4
    a, r = torch.randn(b, d, h, wf), torch.randn(b, d, h, wf)
    out = spectral_correlation(a, r)
    assert out.shape == (b, 81, h, wf)
    chunks = (a * r / d**0.5).reshape(b, h * wf, d // 2, 2)
    ref = torch.zeros_like(out)
    for y in range(h):
        for x in range(wf):
            img = chunks[0, y * wf + x]
            for i in range(9):
                for j in range(9):
                    row, col = y + j - 4, x + i - 4
                    if 0 <= col <= 1 and 0 <= row < d // 2:
                        ref[0, 9 * i + j, y, x] = img[row, col]
    torch.testing.assert_close(out, ref, atol=1e-6, rtol=0)


def test_alignment_backward_correlation_flag():
    torch.manual_seed(0)
    mgaa = MotionGuidedAlignment(channels=8, num_convs=2).eval()
    x = torch.randn(1, 24, 8, 8) * 4
    with torch.no_grad():
        official = mgaa(x)
        mgaa.backward_own_correlation = True
        assert not torch.equal(official, mgaa(x))


# -- model contract --------------------------------------------------------------------------------


def test_registry_entries():
    names = set(list_models())
    assert {"fcvsr", "fcvsr-s", "fcvsr.y", "fcvsr-s.y", "fcvsr.tiny", "fcvsr.paper", "fcvsr-s.paper"} <= names
    assert FCVSR.temporal == "window" and FCVSR.window == 7 and FCVSR.size_multiple == 4
    assert get_spec("fcvsr.y").args["in_channels"] == 1 and get_spec("fcvsr-s.y").args["head_kernel_size"] == 1


@pytest.mark.parametrize("size", [(16, 16), (12, 20)])
def test_forward_shape(size):
    model = _tiny().eval()
    x = torch.rand(2, 7, 3, *size)
    with torch.no_grad():
        y = model(x)
    assert y.shape == (2, 3, 4 * size[0], 4 * size[1]) and torch.isfinite(y).all()


def test_rejects_bad_shapes():
    model = _tiny()
    with pytest.raises(UsageError, match="divisible by 4"):
        model(torch.rand(1, 7, 3, 14, 16))
    with pytest.raises(UsageError):
        model(torch.rand(1, 5, 3, 16, 16))
    with pytest.raises(ModelError):
        FCVSR(scale=2)
    with pytest.raises(ValueError):
        FCVSR(**{**TINY, "mask_mode": "paper"})


def test_batch_independence_and_train_eval_equal():
    model = _tiny()
    torch.manual_seed(1)
    x = torch.rand(2, 7, 3, 12, 16)
    with torch.no_grad():
        both = model.eval()(x)
        first = model(x[:1])
        train = model.train()(x)
    torch.testing.assert_close(both[:1], first, atol=1e-6, rtol=0)
    torch.testing.assert_close(both, train, atol=0, rtol=0)


def _backward(model: FCVSR) -> None:
    model.train()
    # Band-pass bands have zero mean, so with the initial a = 0 the enhancers' channel attention
    # sees a zero pooled input and its squeeze conv gets no gradient; a trained (non-zero) a fixes that.
    with torch.no_grad():
        for enh in model.refinement.enhancers:
            enh.a.normal_()
    torch.manual_seed(3)
    for x in (torch.rand(1, 7, 3, 12, 12), 1 - torch.rand(1, 7, 3, 12, 12) ** 2, 0.2 * torch.rand(1, 7, 3, 12, 12)):
        model(x).square().mean().backward()


def _has_gradient(name: str, p: torch.nn.Parameter) -> bool:
    # MFFR's channel attentions squeeze to 2 hidden ReLU units in the tiny model; at a random init
    # both can be dead, so those convs only have to be part of the graph (grad not None).
    if name.startswith("refinement.") and name.endswith(("squeeze.weight", "excite.weight")):
        return p.grad is not None
    return p.grad is not None and bool(p.grad.abs().sum() > 0)


def test_gradients_official_layout():
    model = _tiny(horizontal_kernel=False, enhancer_conv=False)
    _backward(model)
    c, k, n = model.num_features, model.alignment.kernel_size, model.alignment.num_convs
    n_bands = len(model.refinement.enhancers)
    dead = {f"refinement.enhancers.{q}.conv.{p}" for q in range(n_bands) for p in ("weight", "bias")}
    for name, p in model.named_parameters():
        if name in dead:
            assert p.grad is None or not p.grad.any(), name
        else:
            assert _has_gradient(name, p), name
    # The K2 rows of the kernel head get no gradient: the official code never reads them.
    grad = model.alignment.kernel_predictor[2].weight.grad
    for i in range(n):
        assert not grad[2 * c * k * i + c * k : 2 * c * k * (i + 1)].any()
        assert grad[2 * c * k * i : 2 * c * k * i + c * k].any()


def test_gradients_paper_flags_reach_everything():
    model = _tiny(
        horizontal_kernel=True,
        enhancer_conv=True,
        bands_high_to_low=False,
        backward_own_correlation=True,
        mask_mode="direct",
    )
    _backward(model)
    for name, p in model.named_parameters():
        assert _has_gradient(name, p), name


def test_state_dict_round_trip_without_shared_tensors(tmp_path):
    safetensors = pytest.importorskip("safetensors.torch")
    model = _tiny().eval()
    path = tmp_path / "fcvsr.safetensors"
    safetensors.save_file(model.state_dict(), str(path))  # fails if any tensor were registered twice
    other = FCVSR(**TINY).eval()
    other.load_state_dict(FCVSR.convert_state_dict(safetensors.load_file(str(path))), strict=True)
    x = torch.rand(1, 7, 3, 8, 8)
    with torch.no_grad():
        assert torch.equal(model(x), other(x))


def test_convert_official_keys():
    conv = FCVSR.convert_state_dict
    t = torch.zeros(1)
    cases = {
        "feat_extract.0.weight": "shallow_conv.weight",
        "lrelu.weight": "head_act.weight",
        "MGAA.F.1.bias": "alignment.kernel_predictor.2.bias",
        "MGAA.conv_KP.weight": "alignment.kernel_predictor.0.weight",
        "MGAA.MConvB.5.CA.conv_du.2.weight": "alignment.offset_branches.5.attention.excite.weight",
        "recorb1.body.9.body.2.body.3.gcnet.channel_add_conv.2.weight": "reconstruction.groups.9.blocks.2.rcb.context.add_conv2.weight",
        "recorb1.body.0.body.1.RCB.body.0.weight": "reconstruction.groups.0.blocks.1.rcb.conv1.weight",
        "recorb1.body.0.body.1.body.0.bias": "reconstruction.groups.0.blocks.1.conv1.bias",
        "upconv1_L2_2.bias": "head_l2_merge.bias",
        "upconv1.weight": "upsample1.weight",
        "MFFRblock.DivEnh_block.7.a": "refinement.enhancers.7.a",
        "MFFRblock.ca.conv_du.0.weight": "refinement.aggregator.squeeze.weight",
    }
    for official, ours in cases.items():
        assert list(conv({official: t})) == [ours], official


def test_flops_fcvsr_s_y():
    """FlopCounterMode on the meta device: 40.25 G for FCVSR-S (luma) at 64x64 (docs/architectures.md, FCVSR complexity)."""
    from torch.utils.flop_counter import FlopCounterMode

    spec = get_spec("fcvsr-s.y")
    with torch.device("meta"):
        model = spec.builder(**spec.args).eval()
    assert sum(p.numel() for p in model.parameters()) == 3_704_709
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.rand(1, 7, 1, 64, 64, device="meta"))
    assert abs(counter.get_total_flops() / 40.25e9 - 1) < 1e-3


@pytest.mark.slow
def test_flops_fcvsr_y():
    from torch.utils.flop_counter import FlopCounterMode

    spec = get_spec("fcvsr.y")
    with torch.device("meta"):
        model = spec.builder(**spec.args).eval()
    assert sum(p.numel() for p in model.parameters()) == 8_811_336
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.rand(1, 7, 1, 64, 64, device="meta"))
    assert abs(counter.get_total_flops() / 93.95e9 - 1) < 1e-3
