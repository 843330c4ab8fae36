"""The streaming engine: chunk schedule, cross-fade, tiles, window edges, online state."""

from __future__ import annotations

import pytest
import torch

from freqvsr.inference import SegmentEnd, SRFrame, Upscaler
from freqvsr.inference.tiling import run_tiled, tile_starts
from freqvsr.models import create_model
from toy_models import MeanWindow, NearestSequence, RunningMeanOnline


def _events(up: Upscaler, clip: torch.Tensor, **kw):
    return list(up.stream(iter(clip), **kw))


@pytest.mark.parametrize("n,chunk,overlap", [(1, 4, 1), (7, 4, 0), (20, 8, 3), (13, 10, 2), (9, 3, 2), (33, 8, 7)])
def test_sequence_schedule_emits_every_frame_once_in_order(n, chunk, overlap):
    torch.manual_seed(0)
    clip = torch.rand(n, 3, 6, 5)
    up = Upscaler(NearestSequence(), chunk=chunk, overlap=overlap, device="cpu", tile=0)
    events = _events(up, clip)
    frames = [e for e in events if isinstance(e, SRFrame)]
    assert [f.index for f in frames] == list(range(n))
    # Frames do not interact, so the cross-fade of identical values must give them back exactly.
    whole = NearestSequence()(clip[None])[0]
    torch.testing.assert_close(torch.stack([f.image for f in frames]), whole, atol=1e-6, rtol=0)
    segs = [e for e in events if isinstance(e, SegmentEnd)]
    assert segs[0].start == 0 and segs[-1].end == n
    assert all(a.end == b.start for a, b in zip(segs, segs[1:]))
    # The last chunk is moved back, never shorter than `chunk` when the video is long enough.
    assert up.model.calls == len(segs)


def test_recurrent_chunked_matches_whole_sequence():
    """BasicVSR (tiny, random weights): chunked + cross-faded vs one pass over the whole clip.

    Tolerance stated here: max abs error <= 0.005 on [0, 1] outputs with overlap 6 of 12 (measured
    0.0026, mean 1.4e-4), and the frame-to-frame change at chunk borders matches the whole-sequence
    one within the same bound (no temporal seam).
    """
    torch.manual_seed(0)
    model = create_model("basicvsr.tiny").eval()
    clip = torch.rand(1, 30, 3, 16, 20) * 0.5 + torch.linspace(0, 0.5, 30).view(1, 30, 1, 1, 1)
    with torch.no_grad():
        whole = model(clip)[0].clamp(0, 1)
    up = Upscaler(model, chunk=12, overlap=6, device="cpu", tile=0)
    chunked = up.upscale_clip(clip[0])
    err = (chunked - whole).abs().amax(dim=(1, 2, 3))
    assert err.max() <= 0.005, err
    # temporal seam: the frame-to-frame change must match the whole-sequence one at chunk starts
    d_chunked, d_whole = chunked[1:] - chunked[:-1], whole[1:] - whole[:-1]
    seam = (d_chunked - d_whole).abs().amax(dim=(1, 2, 3))
    assert seam.max() <= 0.005, seam


def test_tiled_matches_untiled_bicubic_and_has_no_seam():
    torch.manual_seed(0)
    model = create_model("bicubic")
    clip = torch.rand(2, 3, 45, 61)
    full = Upscaler(model, tile=0, device="cpu").upscale_clip(clip)
    tiled = Upscaler(model, tile=16, tile_overlap=6, device="cpu").upscale_clip(clip)
    assert tiled.shape == full.shape == (2, 3, 180, 244)
    diff = (tiled - full).abs()
    # the blend gives zero weight to the outer quarter of each overlap, beyond bicubic's support
    assert diff.max() <= 1e-5, diff.max()
    # no seam: error on tile-border columns is not a spike against the rest
    borders = [s * 4 for s in tile_starts(61, 16, 6)[1:]]
    assert diff[..., borders].max() <= 1e-5


def test_tiled_matches_untiled_recurrent():
    torch.manual_seed(0)
    model = create_model("basicvsr.tiny").eval()
    clip = torch.rand(4, 3, 40, 40)
    full = Upscaler(model, tile=0, device="cpu", chunk=4).upscale_clip(clip)
    tiled = Upscaler(model, tile=24, tile_overlap=12, device="cpu", chunk=4).upscale_clip(clip)
    assert (tiled - full).abs().max() <= 0.005  # measured 0.0011, mean 1.2e-4


def test_run_tiled_weights_are_a_partition_of_unity():
    x = torch.ones(1, 1, 50, 70)
    out = run_tiled(lambda i, t: t.repeat_interleave(2, -1).repeat_interleave(2, -2), x, 2, 20, 5)
    torch.testing.assert_close(out, torch.ones(1, 1, 100, 140))


def test_odd_size_and_single_frame():
    model = create_model("basicvsr.tiny").eval()
    up = Upscaler(model, device="cpu")
    assert up.upscale_clip(torch.rand(3, 3, 61, 97)).shape == (3, 3, 244, 388)
    assert up.upscale_clip(torch.rand(1, 3, 61, 97)).shape == (1, 3, 244, 388)


def test_window_model_edges_are_replicated():
    clip = torch.rand(6, 3, 4, 4)
    out = Upscaler(MeanWindow(), chunk=4, device="cpu").upscale_clip(clip)
    idx = lambda t: [min(max(t + d, 0), 5) for d in range(-2, 3)]  # noqa: E731
    for t in range(6):
        expect = torch.nn.functional.interpolate(clip[idx(t)].mean(0)[None], scale_factor=4, mode="nearest")[0]
        torch.testing.assert_close(out[t], expect)


def test_online_streaming_state_is_explicit_and_reset_per_video():
    clip = torch.rand(7, 3, 5, 5)
    up = Upscaler(RunningMeanOnline(), chunk=3, device="cpu")
    first = up.upscale_clip(clip)
    second = up.upscale_clip(clip)  # a new video: state starts from zero again
    torch.testing.assert_close(first, second)
    state = torch.zeros(1, 3, 5, 5)
    for t in range(7):
        state = 0.5 * state + 0.5 * clip[t : t + 1]
        torch.testing.assert_close(first[t], torch.nn.functional.interpolate(state, scale_factor=4)[0])
    # resuming from a saved segment state continues exactly
    events = list(up.stream(iter(clip)))
    seg = [e for e in events if isinstance(e, SegmentEnd)][0]
    resumed = [
        e
        for e in up.stream(iter(clip), resume_from=1, resume_frame=seg.end, resume_state=seg.state)
        if isinstance(e, SRFrame)
    ]
    assert [f.index for f in resumed] == list(range(3, 7))
    torch.testing.assert_close(torch.stack([f.image for f in resumed]), first[3:])


@pytest.mark.parametrize("resume_seg", [1, 2, 3])
def test_sequence_resume_recomputes_only_what_it_needs(resume_seg):
    torch.manual_seed(0)
    model = create_model("basicvsr.tiny").eval()
    clip = torch.rand(23, 3, 8, 8)
    up = Upscaler(model, chunk=8, overlap=3, device="cpu")
    events = list(up.stream(iter(clip)))
    segs = [e for e in events if isinstance(e, SegmentEnd)]
    full = torch.stack([e.image for e in events if isinstance(e, SRFrame)])
    start = segs[resume_seg].start
    resumed = [e for e in up.stream(iter(clip), resume_from=resume_seg, resume_frame=start) if isinstance(e, SRFrame)]
    assert [f.index for f in resumed] == list(range(start, 23))
    assert torch.equal(torch.stack([f.image for f in resumed]), full[start:])


def test_out_of_memory_retries_with_smaller_tiles():
    from toy_models import PickyNearest

    clip = torch.rand(3, 3, 100, 90)
    up = Upscaler(PickyNearest(limit=48 * 48), device="cpu", tile=0)
    out = up.upscale_clip(clip)
    assert up.tile is not None and up.tile <= 48
    torch.testing.assert_close(out, NearestSequence()(clip[None])[0])


def test_out_of_memory_gives_one_clear_error_when_tiles_cannot_shrink():
    from freqvsr.errors import FreqVSRError
    from toy_models import PickyNearest

    with pytest.raises(FreqVSRError, match="out of CPU memory.*tile=32"):
        Upscaler(PickyNearest(limit=10), device="cpu").upscale_clip(torch.rand(2, 3, 40, 40))


def test_precision_and_device_choices():
    from freqvsr.errors import UsageError

    clip = torch.rand(2, 3, 12, 10)
    model = create_model("bicubic")
    fp32 = Upscaler(model, device="cpu", precision="auto")
    assert fp32.precision == "fp32"
    bf16 = Upscaler(model, device="cpu", precision="bf16").upscale_clip(clip)
    assert (bf16 - fp32.upscale_clip(clip)).abs().max() < 0.02
    with pytest.raises(UsageError, match="fp16"):
        Upscaler(model, device="cpu", precision="fp16")
    with pytest.raises(UsageError):
        Upscaler(model, device="tpu")
    if not torch.cuda.is_available():
        with pytest.raises(UsageError, match="no CUDA"):
            Upscaler(model, device="cuda:0")


def test_fcvsr_window_model_and_luma_model_through_engine():
    torch.manual_seed(0)
    clip = torch.rand(3, 3, 16, 20)
    rgb = Upscaler(create_model("fcvsr.tiny"), device="cpu").upscale_clip(clip)
    assert rgb.shape == (3, 3, 64, 80)
    luma = create_model("fcvsr.tiny", in_channels=1)
    out = Upscaler(luma, device="cpu").upscale_clip(clip)
    assert out.shape == (3, 3, 64, 80) and torch.isfinite(out).all()


def test_ycbcr_round_trip():
    from freqvsr.functional.color import rgb_to_ycbcr601, rgb_to_y601, ycbcr601_to_rgb

    x = torch.rand(2, 3, 5, 4, dtype=torch.float64)
    ycc = rgb_to_ycbcr601(x)
    torch.testing.assert_close(ycbcr601_to_rgb(ycc), x)
    torch.testing.assert_close(ycc[:, :1] * 255, rgb_to_y601(x))


# ------------------------------------------------------------------------------ memory plan
def test_plan_whole_frames_when_they_fit_else_the_cheapest_rectangular_tiles():
    from freqvsr.inference.memory import WorkingSet, plan

    ws = WorkingSet(fixed=0, per_pixel=10_000, per_pixel_frame=0)  # ~2.9 GB for a 640x360 frame (x1.25)
    whole = plan(360, 640, working_set=ws, budget=4 << 30, temporal="image", scale=4, chunk=1, host_buffers=False)
    assert whole.tile is None and whole.cost == 1.0 and whole.fits
    half = plan(360, 640, working_set=ws, budget=2 << 30, temporal="image", scale=4, chunk=1, host_buffers=False)
    assert half.fits and half.bytes <= 2 << 30
    # Two 360x328 halves (1.12x with overlaps and tile rims), where the old square planner cut six
    # 304x304 tiles (2.4x the pixels: the 364 s vs 159 s a user measured with --tile 0).
    assert half.tile == (360, 328) and half.tiles == 2 and half.cost < 1.15
    square = plan(
        360, 640, working_set=ws, budget=2 << 30, temporal="image", scale=4, chunk=1, tile=304, host_buffers=False
    )
    assert square.tiles == 6 and square.cost > 2 * half.cost


def test_plan_sizes_the_chunk_of_a_sequence_model_to_the_budget_and_the_video():
    from freqvsr.inference.memory import WorkingSet, plan, sequence_cost

    ws = WorkingSet(fixed=0, per_pixel=1_000, per_pixel_frame=300)
    kw = dict(working_set=ws, temporal="sequence", scale=4)
    roomy = plan(180, 320, budget=8 << 30, **kw)
    assert (roomy.chunk, roomy.overlap, roomy.tile) == (64, 8, None)
    tight = plan(180, 320, budget=400 << 20, **kw)
    assert tight.fits and tight.bytes <= 400 << 20 and (tight.chunk < 64 or tight.tile is not None)
    # a short video is one chunk: no frame computed twice
    short = plan(180, 320, budget=8 << 30, num_frames=12, max_chunk=12, **kw)
    assert short.chunk == 12 and short.cost == 1.0
    # the exact schedule is priced: 64 frames in chunks of 32 (overlap 8) compute 96 frames
    assert sequence_cost(32, 8, 64) == 1.5 and sequence_cost(32, 8, None) == 32 / 24


def test_memory_budget_sizes():
    from freqvsr.errors import UsageError
    from freqvsr.inference.memory import parse_memory_size

    assert parse_memory_size("2G") == parse_memory_size("2GiB") == parse_memory_size("2") == 2 << 30
    assert (
        parse_memory_size("1500M") == 1500 << 20
        and parse_memory_size(None) is None
        and parse_memory_size("auto") is None
    )
    for bad in ("lots", "-1G", "10M"):
        with pytest.raises(UsageError, match="memory_budget="):
            parse_memory_size(bad)


def test_online_model_is_tiled_under_a_small_budget_with_one_state_per_tile():
    torch.manual_seed(0)
    clip = torch.rand(2, 3, 600, 800)  # 216 bytes per pixel measured: 124 MiB a frame
    whole = Upscaler(RunningMeanOnline(), device="cpu", tile=0).upscale_clip(clip)
    # 96M: the budget also holds the LR look-ahead (33 MiB here), whole frames need 124 MiB
    up = Upscaler(RunningMeanOnline(), device="cpu", memory_budget="96M")
    tiled = up.upscale_clip(clip)
    assert up.tile_hw is not None and up.plan.tiles > 1 and up.plan.fits
    # a float16 accumulator (when the plan needs one) rounds to 2^-11 relative
    torch.testing.assert_close(tiled, whole, atol=1e-5 if up.plan.accumulate == "float32" else 1e-3, rtol=0)


def test_working_set_is_measured_and_grows_with_frames():
    up = Upscaler(create_model("basicvsr.tiny"), device="cpu")
    ws = up.working_set()
    assert ws.source == "measured" and ws.per_pixel > 0 and ws.per_pixel_frame > 0
    # at least the float32 output of every frame in a chunk: 3 x 16 x 4 bytes per LR pixel
    assert ws.per_pixel_frame >= 192


def test_rectangular_tiles_and_float16_accumulation_blend_to_unity():
    x = torch.ones(2, 1, 50, 70)
    up = lambda i, t: t.repeat_interleave(2, -1).repeat_interleave(2, -2)  # noqa: E731
    torch.testing.assert_close(run_tiled(up, x, 2, (20, 36), 5), torch.ones(2, 1, 100, 140))
    half = run_tiled(up, x, 2, (20, 36), 5, accumulate_dtype=torch.float16)
    assert half.dtype == torch.float16 and (half.float() - 1).abs().max() <= 2e-3


def test_channels_last_falls_back_for_a_model_that_cannot_take_it():
    import torch.nn.functional as F

    from freqvsr.models import VSRModel

    class FlattensConvOutput(VSRModel):
        """A conv whose output is reshaped with .view(): fails on channels_last activations."""

        temporal = "image"

        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 3, 1, bias=False)
            torch.nn.init.dirac_(self.conv.weight)

        def forward(self, lq):
            b, t, c, h, w = lq.shape
            y = self.conv(lq.reshape(b * t, c, h, w)).view(b * t, c * h * w).view(b * t, c, h, w)
            return F.interpolate(y, scale_factor=4, mode="nearest").reshape(b, t, c, 4 * h, 4 * w)

    clip = torch.rand(3, 3, 10, 12)
    up = Upscaler(FlattensConvOutput(), device="cpu", tile=0, chunk=3)
    assert up.channels_last
    out = up.upscale_clip(clip)
    assert not up.channels_last  # fell back on the first call
    torch.testing.assert_close(out, torch.nn.functional.interpolate(clip, scale_factor=4, mode="nearest"))


@pytest.mark.parametrize(
    "n,chunk,overlap", [(1, 4, 1), (7, 4, 0), (20, 8, 3), (13, 10, 2), (9, 3, 2), (33, 8, 7), (120, 16, 4), (17, 16, 4)]
)
def test_segment_bounds_are_the_engines_segments(n, chunk, overlap):
    """Processes sharing one video's segments plan them with segment_bounds(): it must be the
    schedule the engine really runs."""
    from freqvsr.inference.engine import segment_bounds

    up = Upscaler(NearestSequence(), chunk=chunk, overlap=overlap, device="cpu", tile=0)
    segs = [(e.start, e.end) for e in _events(up, torch.rand(n, 3, 4, 4)) if isinstance(e, SegmentEnd)]
    assert segment_bounds("sequence", n, chunk, overlap) == segs
    batches = Upscaler(create_model("bicubic"), chunk=chunk, device="cpu", tile=0)
    segs = [(e.start, e.end) for e in _events(batches, torch.rand(n, 3, 4, 4)) if isinstance(e, SegmentEnd)]
    assert segment_bounds("image", n, chunk) == segs


def test_iconvsr_gets_the_absolute_frame_index_of_each_chunk():
    """Issue 13: a model declaring uses_frame_index gets frame_offset / ends_video per chunk."""
    from toy_models import NearestSequence as Base

    seen = []

    class Recorder(Base):
        uses_frame_index = True

        def forward(self, lq, frame_offset=0, ends_video=True):
            seen.append((frame_offset, lq.shape[1], ends_video))
            return super().forward(lq)

    Upscaler(Recorder(), chunk=8, overlap=2, device="cpu", tile=0).upscale_clip(torch.rand(20, 3, 4, 4))
    assert seen == [(0, 8, False), (6, 8, False), (12, 8, True)]
