"""FTVSR++ (our implementation of the TPAMI design): attention forms, schemes, ablation switches."""

from __future__ import annotations

import pytest
import torch

from freqvsr.errors import ModelError
from freqvsr.functional.dct import block_dct2d
from freqvsr.layers.frequency_attention_pp import (
    DualFrequencyAttention,
    GlobalFrequencyAttention,
    LocalFrequencyAttention,
    tokenize_global,
    tokenize_local,
    untokenize_global,
    untokenize_local,
)
from freqvsr.models import (
    create_model,
    ftvsrpp,  # registers the entries (until models/__init__ imports it)
)
from freqvsr.models.ftvsrpp import ATTENTIONS, SCHEMES, FTVSRPlusPlus


def _grad_check(model: torch.nn.Module, lq: torch.Tensor) -> torch.Tensor:
    out = model(lq)
    (out * torch.randn_like(out)).sum().backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing, f"parameters without gradient: {missing[:5]}"
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())
    return out


@pytest.mark.parametrize("attention", ATTENTIONS)
@pytest.mark.parametrize("scheme", SCHEMES)
def test_every_form_and_scheme_trains(attention, scheme):
    torch.manual_seed(0)
    model = create_model("ftvsr++.tiny", attention=attention, scheme=scheme)
    lq = torch.rand(1, 3, 3, 10, 12)
    out = _grad_check(model, lq)
    assert out.shape == (1, 3, 3, 40, 48)


@pytest.mark.parametrize("change", [{"domain": "pixel"}, {"mixer": "cnn"}, {"mixer": "cnn", "scheme": "txs"}])
def test_ablation_switches_train(change):
    torch.manual_seed(0)
    model = create_model("ftvsr++.tiny", **change)
    out = _grad_check(model, torch.rand(1, 2, 3, 8, 8))
    assert out.shape == (1, 2, 3, 32, 32)


def test_odd_size_and_single_frame():
    torch.manual_seed(0)
    model = create_model("ftvsr++.tiny").eval()
    with torch.no_grad():
        assert model(torch.rand(2, 1, 3, 9, 11)).shape == (2, 1, 3, 36, 44)
        assert model(torch.rand(1, 2, 3, 7, 5)).shape == (1, 2, 3, 28, 20)


def test_bad_flags_are_model_errors():
    for kw in ({"attention": "xfa"}, {"scheme": "tt"}, {"domain": "wavelet"}, {"mixer": "mlp"}, {"groups": 3}):
        with pytest.raises(ModelError):
            create_model("ftvsr++.tiny", **kw)


def test_lr_multiplier_names_a_submodule():
    model = create_model("ftvsr++.tiny")
    for name in model.lr_multipliers():
        model.get_submodule(name)


# -- tokenization and domain transforms ---------------------------------------------------------


def test_token_layouts_round_trip_exactly():
    x = torch.randn(2, 12, 8, 6)
    for tok, untok in ((tokenize_local, untokenize_local), (tokenize_global, untokenize_global)):
        t = tok(x, 3, 2)
        assert torch.equal(untok(t, 3, 2, (8, 6)), x)
    assert tokenize_local(x, 3, 2).shape == (2, 3 * 12, 4 * 4)  # groups·tiles tokens of c·p²
    assert tokenize_global(x, 3, 2).shape == (2 * 12, 3, 4 * 4)  # one sequence per tile
    # a global token of tile (0, 0), group 1 = channels 4..7 of the top-left 2x2 blocks
    assert torch.equal(tokenize_global(x, 3, 2)[0, 1], x[0, 4:8, :2, :2].reshape(-1))


@pytest.mark.parametrize("domain", ["frequency", "pixel"])
def test_domain_round_trip(domain):
    model = create_model("ftvsr++.tiny", domain=domain)
    img = torch.rand(2, 3, 16, 24, dtype=torch.float64)
    coeffs = model.freq.to_domain(img)
    assert coeffs.shape == (2, 64 * 3, 2, 3)
    assert torch.allclose(model.freq.from_domain(coeffs), img, atol=1e-12)
    if domain == "frequency":
        # frequency-major channels f·3 + colour, scaled so that DC is the block mean
        ref = block_dct2d(img, 8) / 8
        assert torch.allclose(coeffs[:, 5 * 3 + 2], ref[:, 2, 5])
        assert torch.allclose(coeffs[:, 1, 0, 0], img[:, 1, :8, :8].mean(dim=(-1, -2)))


def test_identity_residual_gives_the_basicvsr_backbone_exactly():
    # With the output head zeroed, the frequency stage contributes IDCT(0) and the network is its
    # BasicVSR backbone: same module names, so basicvsr weights load into stage 1.
    torch.manual_seed(0)
    basic = create_model("basicvsr.tiny").eval()
    model = create_model("ftvsr++.tiny").eval()
    missing, unexpected = model.load_state_dict(basic.state_dict(), strict=False)
    assert not unexpected and all(k.startswith("freq.") for k in missing)
    torch.nn.init.zeros_(model.freq.fusion[2].weight)
    torch.nn.init.zeros_(model.freq.fusion[2].bias)
    lq = torch.rand(1, 3, 3, 16, 16)
    with torch.no_grad():
        assert torch.allclose(model(lq), basic(lq), atol=1e-5)


def test_zero_init_flags_start_as_the_backbone_at_zero_flow():
    """Training flags: the untrained network returns SR1, and SPyNet starts at zero flow; other
    weights are drawn as without the flags."""
    torch.manual_seed(0)
    plain = create_model("ftvsr++.tiny").eval()
    torch.manual_seed(0)
    model = create_model("ftvsr++.tiny", zero_init_flow=True, zero_init_residual=True).eval()
    lq = torch.rand(1, 3, 3, 16, 16)
    with torch.no_grad():
        s1 = model.stage1(lq)
        assert torch.equal(model(lq), s1.sr)
        assert all(f.abs().max() == 0 for f in s1.flows_forward + s1.flows_backward)
        assert not torch.equal(plain(lq), model(lq))
    same = [k for k, v in plain.state_dict().items() if not k.startswith(("spynet.", "freq.fusion.2."))]
    assert all(torch.equal(plain.state_dict()[k], model.state_dict()[k]) for k in same)
    with pytest.raises(ModelError, match="zero_init_flow"):
        create_model("ftvsr++.ttvsr.tiny", zero_init_flow=True)


# -- the three attention forms ------------------------------------------------------------------


def _maps(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(1, 16, 8, 8, generator=g), torch.randn(1, 16, 8, 8, generator=g)


def test_gfa_is_per_tile_lfa_and_dfa_are_not():
    # Changing keys in one tile leaves the other tiles' GFA output unchanged (attention runs across
    # frequency groups within a tile); LFA and DFA attend across tiles, so other tiles change.
    torch.manual_seed(0)
    q, k = _maps()
    k2 = k.clone()
    k2[..., :2, :2] += 1.0  # tile (0, 0) only
    for cls, local in (
        (GlobalFrequencyAttention, True),
        (LocalFrequencyAttention, False),
        (DualFrequencyAttention, False),
    ):
        layer = cls(16, 4, 2, 2).eval()
        with torch.no_grad():
            a, b = layer(q, k), layer(q, k2)
        assert not torch.allclose(a[..., :2, :2], b[..., :2, :2])
        others_same = torch.allclose(a[..., 2:, :], b[..., 2:, :], atol=1e-6)
        assert others_same == local, cls.__name__


def test_dfa_is_eq9_and_differs_from_lfa_and_gfa():
    torch.manual_seed(0)
    q, k = _maps(1)
    dfa = DualFrequencyAttention(16, 4, 2, 2).eval()
    with torch.no_grad():
        out = dfa(q, k)
        g_out = dfa.gfa(q[:, :8], k[:, :8])
        l_out = dfa.lfa(q[:, 8:], k[:, 8:])
        assert torch.allclose(out, dfa.fuse(q, torch.cat([g_out, l_out], 1)))
        # fuse is an LFA with the original queries; as a stand-alone LFA / GFA on (q, k) it differs
        lfa = LocalFrequencyAttention(16, 4, 2, 2).eval()
        lfa.load_state_dict(dfa.fuse.state_dict())
        gfa = GlobalFrequencyAttention(16, 4, 2, 2).eval()
        gfa.load_state_dict(dfa.fuse.state_dict())
        assert (out - lfa(q, k)).abs().max() > 1e-2
        assert (out - gfa(q, k)).abs().max() > 1e-2
    # and at the model level, with the same seed
    outs = {}
    lq = torch.rand(1, 2, 3, 8, 8)
    for att in ATTENTIONS:
        torch.manual_seed(0)
        with torch.no_grad():
            outs[att] = create_model("ftvsr++.tiny", attention=att).eval()(lq)
    assert not torch.allclose(outs["dfa"], outs["lfa"]) and not torch.allclose(outs["dfa"], outs["gfa"])


def test_joint_attention_takes_both_key_sets():
    torch.manual_seed(0)
    q, k = _maps(2)
    _, h = _maps(3)
    layer = LocalFrequencyAttention(16, 4, 2, 2).eval()
    with torch.no_grad():
        joint = layer(q, [k, h])
        assert not torch.allclose(joint, layer(q, k)) and not torch.allclose(joint, layer(q, h))
        # keys given twice = the same softmax weights: identical to one copy
        assert torch.allclose(layer(q, [k, k]), layer(q, k), atol=1e-5)


def test_paper_configuration_size():
    # the paper's Table 6 reports 10.8 M parameters for FTVSR++ on a BasicVSR backbone
    with torch.device("meta"):
        model = FTVSRPlusPlus(**ftvsrpp._PAPER_CFG)
    assert round(sum(p.numel() for p in model.parameters()) / 1e6, 1) == 10.8


def test_ttvsr_backbone_trains_and_reuses_the_official_stage1():
    torch.manual_seed(0)
    model = create_model("ftvsr++.ttvsr.tiny")
    assert list(model.lr_multipliers()) == ["backbone.spynet"]
    model.get_submodule("backbone.spynet")
    out = _grad_check(model, torch.rand(1, 3, 3, 10, 12))
    assert out.shape == (1, 3, 3, 40, 48)
    # stage-1 weights of the official port load into backbone.* by name
    official = create_model("ftvsr.official.tiny")
    stage1 = {f"backbone.{k}": v for k, v in official.state_dict().items() if not k.startswith("FTT.")}
    missing, unexpected = model.load_state_dict(stage1, strict=False)
    assert not unexpected and all(k.startswith("freq.") for k in missing)
    lq = torch.rand(1, 2, 3, 8, 8)
    with torch.no_grad():
        sr1, _, _, _ = model.backbone(lq)
        ref = official.stage1(lq).sr
    assert torch.equal(sr1, ref)
