"""FastRealVSR: online stepping == forward, the engine's streaming path, causality, HSA filters."""

from __future__ import annotations

import math

import pytest
import torch

from freqvsr.functional.filters import (
    box_blur,
    box_kernel,
    depthwise_filter,
    gaussian_blur,
    gaussian_kernel,
    unsharp_mask,
)
from freqvsr.inference import SegmentEnd, SRFrame, Upscaler
from freqvsr.layers.hidden_state import (
    HiddenStateAttention,
    HiddenStatePool,
    pool_member_names,
)
from freqvsr.models import create_model, list_models
from freqvsr.models import fastrealvsr as _fastrealvsr  # noqa: F401  (registers the entries)
from freqvsr.models.fastrealvsr import FastRealVSR

VARIANTS = [
    "fastrealvsr",
    "fastrealvsr.urn",
    "fastrealvsr.blurry",
    "fastrealvsr.sharp",
    "fastrealvsr.nosca",
    "fastrealvsr.small",
    "fastrealvsr.tiny",
    "fastrealvsr.lite",
]


def _tiny(**kw) -> FastRealVSR:
    torch.manual_seed(0)
    return create_model("fastrealvsr.tiny", weights=None, **kw).eval()


def _clip(t: int = 5, h: int = 20, w: int = 24, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(1, t, 3, h, w, generator=g)


def _stepped(model: FastRealVSR, lq: torch.Tensor) -> torch.Tensor:
    """The clip through ``init_state`` / ``step`` one frame at a time, stacked like ``forward``."""
    state = model.init_state(lq[:, 0])
    outs = []
    for t in range(lq.shape[1]):
        y, state = model.step(lq[:, t], state)
        outs.append(y)
    return torch.stack(outs, 1)


def test_forward_equals_stepping_frame_by_frame():
    model = _tiny()
    lq = _clip(t=5)
    with torch.no_grad():
        whole = model(lq)
        stepped = _stepped(model, lq)
    assert whole.shape == (1, 5, 3, 80, 96)
    torch.testing.assert_close(stepped, whole, atol=1e-5, rtol=0)
    # the recurrence matters: a later frame differs from processing that frame alone
    with torch.no_grad():
        alone = model(lq[:, 4:5])
    assert (alone[0, 0] - whole[0, 4]).abs().max() > 1e-4


def test_state_is_tensors_only_constant_size_and_saveable(tmp_path):
    model = _tiny()
    lq = _clip(t=6)
    state = model.init_state(lq[:, 0])
    assert state["prev_lq"].numel() == 0 and torch.count_nonzero(state["hidden"]) == 0
    sizes = []
    with torch.no_grad():
        for t in range(6):
            _, state = model.step(lq[:, t], state)
            sizes.append({k: tuple(v.shape) for k, v in state.items()})
    assert all(s == sizes[1] for s in sizes[1:]), sizes  # memory does not grow with T
    assert sizes[-1] == {"prev_lq": (1, 3, 20, 24), "hidden": (1, 8, 20, 24)}
    torch.save(state, tmp_path / "s.pt")
    loaded = torch.load(tmp_path / "s.pt", weights_only=True)
    assert all(torch.equal(loaded[k], state[k]) for k in state)


def test_engine_online_path_equals_forward_and_resumes():
    model = _tiny()
    lq = _clip(t=7, h=18, w=22)
    with torch.no_grad():
        expect = model(lq)[0].clamp(0, 1)
    up = Upscaler(model, device="cpu", chunk=3, tile=0)
    out = up.upscale_clip(lq[0])
    torch.testing.assert_close(out, expect, atol=1e-5, rtol=0)
    # streaming: frames come out in order, one per input, with the state at every segment end
    events = list(up.stream(iter(lq[0])))
    frames = [e for e in events if isinstance(e, SRFrame)]
    segs = [e for e in events if isinstance(e, SegmentEnd)]
    assert [f.index for f in frames] == list(range(7))
    assert [(s.start, s.end) for s in segs] == [(0, 3), (3, 6), (6, 7)]
    # the saved per-tile state does not grow from segment to segment (constant memory)
    shapes = [{k: tuple(v.shape) for k, v in s.state[0].items()} for s in segs]
    assert shapes[0] == shapes[1] == shapes[2]
    # a new video starts from a fresh state (a second run gives the same frames)
    torch.testing.assert_close(up.upscale_clip(lq[0]), out, atol=0, rtol=0)
    # resuming from the state saved after segment 0 continues exactly
    resumed = [
        e
        for e in up.stream(iter(lq[0]), resume_from=1, resume_frame=3, resume_state=segs[0].state)
        if isinstance(e, SRFrame)
    ]
    assert [f.index for f in resumed] == list(range(3, 7))
    torch.testing.assert_close(torch.stack([f.image for f in resumed]), out[3:], atol=1e-6, rtol=0)


def test_output_is_causal_unidirectional():
    model = _tiny()
    lq = _clip(t=4)
    changed = lq.clone()
    changed[:, 2] = torch.rand_like(changed[:, 2])
    with torch.no_grad():
        a, b = model(lq), model(changed)
    assert torch.equal(a[:, :2], b[:, :2])  # frames before the change are untouched
    assert (a[:, 2] - b[:, 2]).abs().max() > 1e-3
    assert (a[:, 3] - b[:, 3]).abs().max() > 1e-5  # and the change propagates forward


def test_first_frame_uses_no_flow(monkeypatch):
    model = _tiny()
    calls = []
    orig = model.spynet.forward
    monkeypatch.setattr(model.spynet, "forward", lambda *a: calls.append(1) or orig(*a))
    lq = _clip(t=1)
    with torch.no_grad():
        model(lq)
        model.step(lq[:, 0], model.init_state(lq[:, 0]))
    assert calls == []


# --- hidden-state pool and HSA ------------------------------------------------------------------


def test_filters_keep_constants_and_sum_to_one():
    c = torch.full((2, 3, 9, 11), 0.37)
    torch.testing.assert_close(box_blur(c, 3), c)
    torch.testing.assert_close(box_blur(c, 5), c)
    torch.testing.assert_close(gaussian_blur(c, 5, 1.0), c)
    torch.testing.assert_close(unsharp_mask(c, 3, 0.5), c)
    torch.testing.assert_close(unsharp_mask(c, 5, 1.0), c)
    assert math.isclose(float(gaussian_kernel(5, 1.0).sum()), 1.0, abs_tol=1e-6)
    g = gaussian_kernel(5, 1.0)
    assert torch.equal(g, g.flip(0)) and torch.equal(g, g.t()) and g[2, 2] == g.max()
    # a box filter is a local mean; unsharp masking is x + (x - blur(x))
    x = torch.rand(1, 2, 7, 8)
    torch.testing.assert_close(box_blur(x, 3)[..., 3, 4], x[..., 2:5, 3:6].mean(dim=(-1, -2)))
    torch.testing.assert_close(unsharp_mask(x, 5, 1.0), 2 * x - gaussian_blur(x, 5, 1.0), atol=1e-6, rtol=0)
    torch.testing.assert_close(depthwise_filter(x, box_kernel(1)), x)


def test_pool_members_and_sizes():
    assert pool_member_names() == ["box3", "box5", "gauss5_s1.0", "unsharp3_s0.5", "unsharp5_s1.0"]
    pool = HiddenStatePool()
    assert pool.size == 5 and pool.kernels.shape == (5, 5, 5)
    assert HiddenStatePool("blurry").size == 3 and HiddenStatePool("sharp").size == 2
    assert HiddenStatePool(include_identity=True).size == 6
    h = torch.rand(2, 4, 10, 12)
    out = pool(h)
    assert out.shape == (2, 5, 4, 10, 12)
    torch.testing.assert_close(out[:, 1], box_blur(h, 5))
    torch.testing.assert_close(out[:, 2], gaussian_blur(h, 5, 1.0))
    torch.testing.assert_close(out[:, 3], unsharp_mask(h, 3, 0.5), atol=1e-6, rtol=0)
    torch.testing.assert_close(HiddenStatePool(include_identity=True)(h)[:, 0], h)

    # blurring lowers the high-frequency energy, sharpening raises it
    def hf(x):
        return (x[..., 1:, :] - x[..., :-1, :]).abs().mean()

    assert hf(out[:, 0]) < hf(h) < hf(out[:, 4])
    # fixed filters are not weights: not trainable, not in the state dict
    assert not list(pool.parameters()) and "kernels" not in pool.state_dict()


def test_selective_cross_attention_matches_the_spec_formula():
    torch.manual_seed(0)
    hsa = HiddenStateAttention(6)
    h, f = torch.rand(1, 6, 8, 9), torch.rand(1, 6, 8, 9)
    with torch.no_grad():
        out = hsa(h, f)
        pool = hsa.pool(h)
        sca = hsa.select
        q = sca.conv_q(f)
        ks = [sca.conv_k(pool[:, i]) for i in range(5)]
        vs = [sca.conv_v(pool[:, i]) for i in range(5)]
        # softmax_i(<Q, K_i> / sqrt(C)) per pixel, then sum_i w_i V_i
        logits = torch.stack([(q * k).sum(1) / math.sqrt(6) for k in ks], 0)
        w = torch.softmax(logits, 0)
        expect = sum(w[i][:, None] * vs[i] for i in range(5))
    assert out.shape == (1, 6, 8, 9)
    torch.testing.assert_close(out, expect, atol=1e-5, rtol=0)
    v = torch.stack(vs, 1)
    assert (out <= v.amax(1) + 1e-5).all() and (out >= v.amin(1) - 1e-5).all()  # convex combination
    # a zero query gives uniform weights: the mean of the values
    with torch.no_grad():
        sca.conv_q.weight.zero_()
        sca.conv_q.bias.zero_()
        torch.testing.assert_close(hsa(h, f), v.mean(1), atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", VARIANTS)
def test_variants_register_and_build(name):
    assert name in list_models()
    if name not in ("fastrealvsr.tiny", "fastrealvsr.small", "fastrealvsr.lite"):
        return  # full-size variants are built (and counted) in test_variants_differ
    model = create_model(name, weights=None)
    assert model.temporal == "online" and model.lr_multipliers() == {"spynet": 0.125}
    if name == "fastrealvsr.lite":  # the CPU default's architecture: within its 60-GFLOP budget
        from freqvsr.bench.speed import count_flops

        assert model.flow == "half" and model.hsa is None and model.upsampler_kind == "shuffle4"
        assert count_flops(model, 2, 180, 320) / 2 < 60e9


def test_variants_differ_in_structure_and_output():
    torch.manual_seed(0)
    base = {"mid_channels": 8, "num_feat_blocks": 1, "num_fuse_blocks": 1}
    models = {
        "all": FastRealVSR(**base),
        "urn": FastRealVSR(**base, hsa=False),
        "blurry": FastRealVSR(**base, pool="blurry"),
        "sharp": FastRealVSR(**base, pool="sharp"),
        "nosca": FastRealVSR(**base, sca=False),
        "ident": FastRealVSR(**base, pool_includes_identity=True),
    }
    assert models["urn"].hsa is None
    assert models["blurry"].hsa.pool.size == 3 and models["sharp"].hsa.pool.size == 2
    assert models["ident"].hsa.pool.size == 6 and models["all"].hsa.pool.size == 5
    assert models["nosca"].hsa.select.conv.in_channels == 5 * 8
    # same weights wherever the layouts agree: the pool choice alone changes the output
    sd = models["all"].state_dict()
    for k in ("blurry", "sharp", "ident"):
        models[k].load_state_dict(sd)
    lq = _clip(t=3, h=12, w=12)
    with torch.no_grad():
        outs = {k: m.eval()(lq) for k, m in models.items()}
    names = list(outs)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert (outs[a] - outs[b]).abs().max() > 1e-6, (a, b)
    # the paper-size network has ~3.8 M parameters (SPyNet included)
    full = FastRealVSR()
    n = sum(p.numel() for p in full.parameters())
    assert 3.7e6 < n < 3.9e6, n


def test_cli_upscale_streams_with_fastrealvsr(small_clip, tmp_path):
    import json

    import av

    from freqvsr.cli.main import main

    out, report = tmp_path / "sr.mp4", tmp_path / "r.json"
    assert (
        main(
            [
                "upscale",
                str(small_clip),
                "-o",
                str(out),
                "--model",
                "fastrealvsr.tiny",
                "--device",
                "cpu",
                "--chunk",
                "4",
                "--quiet",
                "--json",
                str(report),
            ]
        )
        == 0
    )
    with av.open(str(out)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(frames) == 6 and frames[0].shape == (192, 256, 3)
    assert json.loads(report.read_text())[0]["frames"] == 6


# --- CPU flags (flow at half size / no flow, previous-frame input, x4 shuffle, bicubic skip) -----

CPU_FLAGS = [
    {"flow": "half", "upsampler": "shuffle4", "skip": "bicubic", "zero_init_flow": True},
    {"flow": "none", "prev_input": True, "upsampler": "shuffle4", "skip": "bicubic"},
    {"flow": "half", "prev_input": True, "hsa": False},
]


@pytest.mark.parametrize("flags", CPU_FLAGS)
def test_cpu_flags_forward_equals_stepping_and_stay_causal(flags):
    model = _tiny(**flags)
    lq = _clip(t=4, h=18, w=22)
    with torch.no_grad():
        whole = model(lq)
        stepped = _stepped(model, lq)
        changed = lq.clone()
        changed[:, 2] = torch.rand_like(changed[:, 2])
        other = model(changed)
    assert whole.shape == (1, 4, 3, 72, 88)
    torch.testing.assert_close(stepped, whole, atol=1e-5, rtol=0)
    assert torch.equal(whole[:, :2], other[:, :2])
    assert (whole[:, 3] - other[:, 3]).abs().max() > 1e-6  # the change reaches later frames


def test_half_size_flow_is_spynet_on_downscaled_frames_rescaled(monkeypatch):
    model = _tiny(flow="half")
    seen = []

    def fake(ref, supp):
        seen.append(tuple(ref.shape[-2:]))
        return torch.ones(ref.shape[0], 2, *ref.shape[-2:])  # one LR pixel at half size

    monkeypatch.setattr(model.spynet, "forward", fake)
    cur, prev = torch.rand(1, 3, 20, 30), torch.rand(1, 3, 20, 30)
    flow = model._compute_flow(cur, prev)
    assert seen == [(10, 15)]
    assert flow.shape == (1, 2, 20, 30)
    torch.testing.assert_close(flow, torch.full_like(flow, 2.0))  # x2 in both directions


def test_no_flow_variant_has_no_spynet_and_bicubic_skip_starts_at_bicubic():
    from freqvsr.functional.resize import bicubic_upsample

    model = _tiny(flow="none", upsampler="shuffle4", skip="bicubic")
    assert model.spynet is None and model.lr_multipliers() == {}
    torch.nn.init.zeros_(model.conv_last.weight)
    torch.nn.init.zeros_(model.conv_last.bias)
    lq = _clip(t=2)
    with torch.no_grad():
        out = model(lq)
    torch.testing.assert_close(out[0], bicubic_upsample(lq[0], 4))
    with pytest.raises(ValueError, match="flow must be one of"):
        FastRealVSR(flow="quarter")
