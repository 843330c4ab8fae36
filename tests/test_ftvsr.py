"""FTVSR (official network) pieces against literal references written from the spec, plus the
quirk switches, the checkpoint layout and model-level invariants, on tiny sizes.

References here follow ``design/specs/ftvsr-official.md`` step by step (grid_sample for LTAM,
``nn.MultiheadAttention`` + unfold/fold for FTTA) so that the vectorised port is checked against
the straightforward formulation; the full model is checked against the official outputs in
``test_ftvsr_golden.py``.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from freqvsr.layers.frequency_attention import FrequencyTokenAttention
from freqvsr.layers.winograd import winograd_conv3x3, winograd_weight
from freqvsr.errors import ModelError
from freqvsr.models import create_model
from freqvsr.models._checkpoint import unwrap_state_dict
from freqvsr.models._registry import get_spec
from freqvsr.models.ftvsr import FTVSR, LTAM, keyframe_schedule, pad_official

TINY = dict(get_spec("ftvsr.official.tiny").args)


def _tiny(**overrides) -> FTVSR:
    torch.manual_seed(0)
    return FTVSR(**{**TINY, **overrides}).eval()


# --- registry -------------------------------------------------------------------------------------


def test_registered_entries():
    assert get_spec("ftvsr.official").args == dict(
        mid_channels=64, num_blocks=60, stride=4, keyframe_stride=3, d_model=512, n_heads=4
    )
    assert get_spec("ftvsr.official-vimeo").args["keyframe_stride"] == 1
    assert FTVSR.temporal == "sequence"


# --- padding quirk --------------------------------------------------------------------------------


def _reference_padding(img: torch.Tensor) -> torch.Tensor:
    # spec §1.4: zero canvas, image top-left, then canvas[..., -ph:, -pw:] = img[..., -ph:, -pw:]
    h, w = img.shape[-2:]
    ph, pw = (8 - h % 8) % 8, (8 - w % 8) % 8
    canvas = torch.zeros(*img.shape[:-2], h + ph, w + pw)
    canvas[..., :h, :w] = img
    canvas[..., canvas.shape[-2] - ph if ph else 0 :, canvas.shape[-1] - pw if pw else 0 :] = img[
        ..., h - ph if ph else 0 :, w - pw if pw else 0 :
    ]
    return canvas


@pytest.mark.parametrize("size", [(16, 20), (12, 16), (12, 20), (16, 16)])
def test_padding_quirk(size):
    img = torch.rand(1, 2, 3, *size) + 1  # strictly positive so zero strips are visible
    padded, (ph, pw) = pad_official(img)
    assert torch.equal(padded, _reference_padding(img))
    h, w = size
    if ph and pw:  # both dims: the strips stay zero, only the corner is copied
        assert (padded[..., h:, :w] == 0).all() and (padded[..., :h, w:] == 0).all()
        assert torch.equal(padded[..., h:, w:], img[..., h - ph :, w - pw :])
    elif pw:  # one dim: copy of the last pw columns
        assert torch.equal(padded[..., w:], img[..., w - pw :])


# --- LTAM -----------------------------------------------------------------------------------------


def _reference_tokens(feat: torch.Tensor, s: int = 4) -> list[torch.Tensor]:
    n, c, h, w = feat.shape
    out = [F.unfold(feat, s, stride=s)]
    for k, p, size in ((6, 1, (int(1.5 * h), int(1.5 * w))), (8, 2, (2 * h, 2 * w))):
        tiled = F.fold(F.unfold(feat, k, padding=p, stride=s), size, k, stride=k)
        out.append(F.unfold(F.adaptive_avg_pool2d(tiled, (h, w)), s, stride=s))
    return out  # three (n, C*s*s, L)


def _reference_ltam(fusion, curr, index_buf, anchor, bufs, location, s=4):
    """Spec §1.3 LTAM, literally: grid_sample every buffer along the trajectories, hard max."""
    n, c, h, w = anchor.shape
    k = index_buf.shape[1]
    h4, w4 = h // s, w // s
    d = c * s * s
    grid = location.view(n, k, 2, h4, w4).permute(0, 1, 3, 4, 2)
    gx = 2.0 * grid[..., 0] / max(w4 - 1, 1) - 1.0
    gy = 2.0 * grid[..., 1] / max(h4 - 1, 1) - 1.0
    grid = torch.stack((gx, gy), dim=-1).reshape(n * k, h4, w4, 2)

    def sample(buf):
        out = F.grid_sample(
            buf.reshape(n * k, d, h4, w4), grid, mode="nearest", padding_mode="zeros", align_corners=True
        )
        return out.view(n, k, d, h4 * w4)

    q = F.normalize(F.unfold(curr, s, stride=s).permute(0, 2, 1), dim=2).unsqueeze(3)
    keys = F.normalize(sample(index_buf).permute(0, 3, 1, 2), dim=3)
    score, idx = torch.max(torch.matmul(keys, q).squeeze(3), dim=2)
    picked = []
    for buf in bufs:
        v = torch.gather(sample(buf), 1, idx.view(n, 1, 1, -1).expand(-1, -1, d, -1)).squeeze(1)
        picked.append(F.fold(v, (h, w), s, stride=s))
    score = F.fold(score.unsqueeze(1).expand(-1, d, -1), (h, w), s, stride=s)
    return fusion(torch.cat(picked, 1)) * score + anchor


@pytest.mark.parametrize("size,k", [((16, 16), 1), ((16, 20), 2), ((18, 23), 3)])
def test_ltam_matches_reference(size, k):
    torch.manual_seed(k)
    n, c, s = 2, 8, 4
    h, w = size
    h4, w4 = h // s, w // s
    ltam = LTAM(c, s)
    curr, anchor = torch.randn(n, c, h, w), torch.randn(n, c, h, w)
    feats = [torch.randn(n, c, h, w) for _ in range(k)]
    idx_feats = [torch.randn(n, c, h, w) for _ in range(k)]
    # reference buffers (n, K, d, h4, w4) and ours (token-major)
    toks = [_reference_tokens(f) for f in feats]
    bufs = [torch.stack([t[j] for t in toks], 1).view(n, k, -1, h4, w4) for j in range(3)]
    index_buf = torch.stack([F.unfold(f, s, stride=s) for f in idx_feats], 1).view(n, k, -1, h4, w4)
    # integer trajectories, some pointing outside the token grid (-> zero tokens)
    xs = torch.randint(-1, w4 + 1, (n, k, 1, h4, w4)).float()
    ys = torch.randint(-1, h4 + 1, (n, k, 1, h4, w4)).float()
    location = torch.cat([xs, ys], 2).view(n, 2 * k, h4, w4)

    keys = torch.stack([ltam.to_tokens(f) for f in idx_feats], 1)
    memory = torch.stack([ltam.keyframe_tokens(f) for f in feats], 1)
    with torch.no_grad():
        ours = ltam(curr, keys, anchor, memory, location)
        ref = _reference_ltam(ltam.fusion, curr, index_buf, anchor, bufs, location)
    assert (ours - ref).abs().max() < 1e-5
    # pixels outside the token grid receive no LTAM contribution
    if h % s:
        assert torch.equal(ours[..., h4 * s :, :], anchor[..., h4 * s :, :])


def test_keyframe_tokens_match_unfold_fold_reference():
    torch.manual_seed(0)
    ltam = LTAM(8, 4)
    for size in [(16, 16), (20, 45), (37, 53)]:
        feat = torch.randn(1, 8, *size)
        ref = torch.cat([t.transpose(1, 2) for t in _reference_tokens(feat)], dim=2)
        assert torch.allclose(ltam.keyframe_tokens(feat), ref, atol=1e-6)


def test_keyframe_schedule_and_memory_sizes(monkeypatch):
    assert keyframe_schedule(10, 3, backward=False) == [0, 3, 6, 9]
    assert keyframe_schedule(10, 3, backward=True) == [9, 6, 3]  # official: frame 0 never a backward keyframe
    seen: list[int] = []
    original = LTAM.forward

    def spy(self, curr, keys, anchor, memory, location):
        assert location.shape[1] == 2 * keys.shape[1] == 2 * memory.shape[1]
        seen.append(keys.shape[1])
        return original(self, curr, keys, anchor, memory, location)

    monkeypatch.setattr(LTAM, "forward", spy)
    model = _tiny(keyframe_stride=3)
    with torch.no_grad():
        model.stage1(torch.rand(1, 10, 3, 8, 8))
    assert seen == [1, 1, 1, 2, 2, 2, 3, 3, 3] * 2  # backward then forward (spec §6.2.7)


# --- FTTA -------------------------------------------------------------------------------------------


class _ReferenceFTTA(nn.Module):
    """Spec §1.4 FTTA_layer with nn.MultiheadAttention, unfold/fold; same parameter names."""

    def __init__(self, channels, groups, patch, heads):
        super().__init__()
        d = channels // groups * patch * patch
        self.g, self.p, self.d = groups, patch, d
        self.layer_q, self.layer_k, self.layer_v = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)
        self.MultiheadAttention = nn.MultiheadAttention(d, heads)
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.linear1, self.linear2 = nn.Linear(d, d), nn.Linear(d, d)

    def forward(self, q, k, v):
        n, c, h, w = q.shape

        def tok(x):
            x = F.unfold(x.reshape(n * self.g, c // self.g, h, w), self.p, stride=self.p)
            return x.view(n, self.g, self.d, -1).permute(0, 1, 3, 2).reshape(n, -1, self.d)

        qt, kt, vt = self.layer_q(tok(q)), self.layer_k(tok(k)), self.layer_v(tok(v))
        a = self.MultiheadAttention(qt.transpose(0, 1), kt.transpose(0, 1), vt.transpose(0, 1))[0].transpose(0, 1)
        z = self.norm1(a + vt)
        z = self.norm2(z + F.leaky_relu(self.linear1(z), 0.1))
        o = self.linear2(z).view(n, self.g, -1, self.d).permute(0, 1, 3, 2).reshape(n * self.g, self.d, -1)
        return F.fold(o, (h, w), self.p, stride=self.p).view(n, c, h, w)


@pytest.mark.parametrize("grid", [(8, 8), (10, 23), (12, 9)])
def test_ftta_matches_multihead_reference(grid):
    torch.manual_seed(0)
    ref = _ReferenceFTTA(32, 8, 4, 4)
    ours = FrequencyTokenAttention(32, 8, 4, 4)
    ours.load_state_dict(ref.state_dict())  # identical key names, incl. packed in_proj
    q, k, v = (torch.randn(2, 32, *grid) * 3 for _ in range(3))
    with torch.no_grad():
        a, b = ours(q, k, v), ref(q, k, v)
        assert (a - b).abs().max() < 1e-5
        assert (ours(q, k) - ref(q, k, k)).abs().max() < 1e-5  # v=None means v is k
    h, w = grid
    assert (a[..., 4 * (h // 4) :, :] == 0).all() and (a[..., 4 * (w // 4) :] == 0).all()  # un-attended border


def test_ftta_cover_border_switch():
    torch.manual_seed(0)
    covered = FrequencyTokenAttention(16, 4, 4, 2, cover_border=True)
    official = FrequencyTokenAttention(16, 4, 4, 2)
    official.load_state_dict(covered.state_dict())
    q = torch.randn(1, 16, 10, 13)
    with torch.no_grad():
        a, b = covered(q, q), official(q, q)
    assert a.shape == b.shape == q.shape
    assert (b[..., 8:, :] == 0).all() and (b[..., 12:] == 0).all()  # official: border never attended
    assert (a[..., 8:, :] != 0).float().mean() > 0.9 and (a[..., 12:] != 0).float().mean() > 0.9
    assert torch.equal(a[..., :8, :12] == 0, torch.zeros_like(a[..., :8, :12], dtype=torch.bool))


# --- Winograd -----------------------------------------------------------------------------------


@pytest.mark.parametrize("tile,rel", [(2, 1e-5), (4, 1e-4)])
@pytest.mark.parametrize("shape", [(1, 32, 24, 8, 8), (2, 16, 8, 7, 11), (1, 3, 5, 1, 2)])
def test_winograd_matches_conv2d(shape, tile, rel):
    n, cin, cout, h, w = shape
    torch.manual_seed(0)
    x, wt, b = torch.randn(n, cin, h, w), torch.randn(cout, cin, 3, 3), torch.randn(cout)
    ref = F.conv2d(x.double(), wt.double(), b.double(), padding=1)
    for chunk in (1, 256):  # tiles per chunk: many small chunks and a single one give the same
        out = winograd_conv3x3(x, winograd_weight(wt, tile), b, tiles_per_chunk=chunk)
        assert out.shape == ref.shape
        assert (out.double() - ref).abs().max() < rel * ref.abs().max()
    # differentiable (training uses the same path on CPU)
    x.requires_grad_(True)
    wt.requires_grad_(True)
    winograd_conv3x3(x, winograd_weight(wt, tile), b).sum().backward()
    want = torch.autograd.grad(F.conv2d(x, wt, b, padding=1).sum(), wt)[0]
    assert (wt.grad - want).abs().max() < 100 * rel * want.abs().max()


# --- model-level invariants -----------------------------------------------------------------------


def test_double_residual_and_its_switch():
    x = torch.rand(1, 3, 3, 12, 16)
    for quirk, factor in ((True, 2.0), (False, 1.0)):
        model = _tiny(quirk_double_residual=quirk)
        nn.init.zeros_(model.FTT.conv_layer2.weight)
        nn.init.zeros_(model.FTT.conv_layer2.bias)
        with torch.no_grad():
            out, inter = model.forward_with_intermediates(x)
        assert (out - factor * inter["stage1_out"]).abs().max() < 2e-6


def test_batch_of_two_equals_two_single_runs():
    model = _tiny()
    x = torch.rand(2, 3, 3, 12, 20)
    with torch.no_grad():
        both = model(x)
        one = torch.cat([model(x[:1]), model(x[1:])])
    assert (both - one).abs().max() < 1e-5


@pytest.mark.parametrize("t", [1, 2])
def test_short_sequences(t):
    model = _tiny()
    with torch.no_grad():
        out = model(torch.rand(1, t, 3, 9, 13))
    assert out.shape == (1, t, 3, 36, 52) and torch.isfinite(out).all()


def test_gradients_reach_every_parameter_but_not_the_dct():
    model = _tiny().train()
    x = torch.rand(1, 3, 3, 16, 16, requires_grad=True)
    out = model(x)
    (out * torch.randn_like(out)).sum().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, missing
    assert "FTT.dct.dct_conv.weight" in dict(model.named_buffers())  # fixed: a buffer, never optimised
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_quirk_switches_change_the_result():
    x = torch.rand(1, 3, 3, 9, 13)  # HR 36x52: both dims padded, uncovered FTTA border
    with torch.no_grad():
        base = _tiny()(x)
        for flag in ("quirk_pad_fill", "quirk_unattended_border", "quirk_size_dependent_norm"):
            other = _tiny(**{flag: False})(x)
            assert other.shape == base.shape
            assert (other - base).abs().max() > 1e-6, flag


def test_size_independent_normalisation_matches_official_at_reference_size():
    model = _tiny(quirk_size_dependent_norm=False, norm_reference_blocks=6 * 5)
    official = _tiny()
    coeffs = torch.randn(2, 192, 6, 5)
    assert torch.allclose(model.FTT.normalise(coeffs), official.FTT.normalise(coeffs), atol=1e-6)
    big = torch.randn(2, 192, 12, 10)  # 4x the positions: official per-coefficient scale halves
    assert torch.allclose(model.FTT.normalise(big), 2 * official.FTT.normalise(big), atol=1e-6)


def test_official_checkpoint_layout_loads_through_factory(tmp_path):
    src = _tiny()
    state = {"generator." + k: v for k, v in src.state_dict().items()}
    state["step_counter"] = torch.zeros(1)
    path = tmp_path / "FTVSR_tiny.pth"
    torch.save({"meta": {}, "state_dict": state}, path)
    loaded = create_model("ftvsr.official.tiny", weights=path)
    a, b = src.state_dict(), loaded.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    # the factory's unwrapping, then the hook: nested dict, module. prefixes, restorer entries dropped
    nested = {"state_dict": {"generator.module." + k: v for k, v in a.items()} | {"step_counter": torch.zeros(1)}}
    converted = FTVSR.convert_state_dict(unwrap_state_dict(nested, "FTVSR_tiny.pth"))
    assert "step_counter" not in FTVSR.convert_state_dict(dict(a) | {"step_counter": torch.zeros(1)})
    assert converted.keys() == a.keys()


def test_winograd_frequency_stage_matches_plain_convolutions():
    # d_model 256 >= WINOGRAD_MIN_CHANNELS, so the FTT trunks take the Winograd path on CPU
    torch.manual_seed(0)
    state = _tiny(d_model=256, ftt_groups=64, ftt_patch=2).state_dict()
    x = torch.rand(1, 2, 3, 8, 12)
    outs, caches = {}, {}
    with torch.no_grad():
        for tile, cache in ((2, True), (4, True), (4, False), (0, True)):
            model = _tiny(d_model=256, ftt_groups=64, ftt_patch=2, winograd=tile, winograd_cache=cache)
            model.load_state_dict(state)
            first = model(x)
            outs[tile, cache] = model(x)  # second call: transformed weights come from the cache
            assert torch.equal(first, outs[tile, cache])
            caches[tile, cache] = len(model.FTT._winograd_cache)
    assert caches[2, True] > 0 and caches[4, True] > 0
    assert caches[4, False] == 0 and caches[0, True] == 0  # no cache kept / nothing to transform
    assert torch.equal(outs[4, True], outs[4, False])
    direct = outs[0, True]
    assert 0 < (outs[2, True] - direct).abs().max() < 1e-5  # > 0: the Winograd path really ran
    assert 0 < (outs[4, True] - direct).abs().max() < 1e-4
    with pytest.raises(ModelError, match="winograd must be 0"):
        _tiny(winograd=3)


def test_fast_paths_do_not_change_results():
    # channels-last layout is a pure layout change; compare against plain NCHW execution
    model = _tiny()
    plain_model = _tiny(channels_last=False)  # same seed: same weights
    x = torch.rand(1, 3, 3, 12, 16)
    with torch.no_grad():
        fast = model(x)
        plain = plain_model(x)
    assert (fast - plain).abs().max() < 1e-5


@pytest.mark.parametrize("name", ["ftvsr.official.tiny", "ftvsr++.tiny"])
def test_bf16_autocast_on_cpu_stays_close_to_fp32(name):
    # `--precision bf16` on CPU (oneDNN bf16 / AMX kernels): every op must accept autocast's bf16
    # tensors (Winograd, DCT matmuls, grid_sample, SDPA). Random weights, so the tolerance is
    # loose; measured here: mean abs 1.6e-3 / 4.1e-3, max 0.011 / 0.027.
    torch.manual_seed(0)
    model = create_model(name).eval()
    x = torch.rand(1, 3, 3, 16, 16)
    with torch.no_grad():
        ref = model(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = model(x)
    assert low.shape == ref.shape and torch.isfinite(low).all()
    d = (low.float() - ref).abs()
    assert 0 < d.mean() < 0.01 and d.max() < 0.1
