"""freqvsr.io: decode, encode, remux with audio/subtitles, image folders, errors."""

from __future__ import annotations

import os
import warnings
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from clips import SRT_TEXT, add_subtitles, decode_all, make_video, pattern, run_ffmpeg, write_png
from freqvsr.errors import InputError, OutputError, UsageError
from freqvsr.io import (
    EncodeSettings,
    FrameFolderWriter,
    SegmentWriter,
    VideoInfo,
    assemble_video,
    is_video_output,
    open_input,
    probe,
)


def upscale_identity(src: Path, out: Path, tmp: Path, *, splits: int = 1, settings=None, **assemble_kw) -> VideoInfo:
    """Decode ``src``, re-encode its frames into ``splits`` segments, assemble into ``out``."""
    with open_input(src) as source:
        info = source.info
        frames = list(source)
    s = (settings or EncodeSettings()).resolve(out, info)
    bounds = np.linspace(0, len(frames), splits + 1).astype(int)
    segs = []
    for k in range(splits):
        seg = tmp / f"seg{k}.mp4"
        with SegmentWriter(seg, s, info.width, info.height, info) as w:
            for f in frames[bounds[k] : bounds[k + 1]]:
                w.write(f.image, f.pts)
        segs.append(seg)
    assemble_video(out, segs, info, **assemble_kw)
    return info


def packets(path, kind: str) -> list[tuple]:
    c = av.open(str(path))
    streams = c.streams.audio if kind == "audio" else c.streams.subtitles
    out = [(bytes(p), float(p.pts * p.time_base)) for p in c.demux(streams[0]) if p.size]
    c.close()
    return out


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * np.log10(255.0**2 / max(mse, 1e-12))


# ------------------------------------------------------------------ probing / decoding
def test_probe_and_decode_real_clip(carphone):
    info = probe(carphone)
    assert (info.kind, info.width, info.height, info.codec) == ("video", 176, 144, "h264")
    assert info.num_frames == 120 and info.fps == Fraction(30000, 1001)
    assert info.time_base == Fraction(1, 30000) and info.duration == pytest.approx(4.004)
    assert (info.bit_depth, info.grayscale, info.rotation) == (8, False, 0)
    with open_input(carphone) as src:
        first = next(iter(src))
    assert first.image.shape == (144, 176, 3) and first.image.dtype == np.uint8
    assert first.index == 0 and first.pts == 0 and first.time == 0.0


def test_roundtrip_real_clip_two_segments(carphone, tmp_path):
    out = tmp_path / "out.mp4"
    info = upscale_identity(carphone, out, tmp_path, splits=2)
    got = probe(out)
    assert got.num_frames == 120 and got.fps == info.fps and got.time_base == info.time_base
    assert got.duration == pytest.approx(info.duration, abs=1e-3)
    # Untagged SD source: converted as BT.601 limited and tagged so (self-consistent file).
    assert (got.colorspace, got.color_range) == (6, 1)
    src_frames, _ = decode_all(carphone)
    out_frames, _ = decode_all(out)
    assert [f.pts for f in out_frames] == [f.pts for f in src_frames]
    a = src_frames[60].to_ndarray(format="rgb24")
    b = out_frames[60].to_ndarray(format="rgb24")
    assert psnr(a, b) > 35


def test_frames_come_out_in_display_order_with_times(clip_with_audio):
    with open_input(clip_with_audio) as src:
        frames = list(src)
    assert [f.index for f in frames] == list(range(8))
    assert [f.pts for f in frames] == [i * 1001 for i in range(8)]
    assert frames[3].time == pytest.approx(3 * 1001 / 30000)


def test_frame_source_iterates_once(small_clip):
    with open_input(small_clip) as src:
        assert len(list(src)) == 6
        with pytest.raises(RuntimeError):
            list(src)


# ------------------------------------------------------------------ audio / subtitles
def test_audio_packets_bit_identical(clip_with_audio, tmp_path):
    for ext in (".mp4", ".mkv"):
        out = tmp_path / f"out{ext}"
        upscale_identity(clip_with_audio, out, tmp_path, splits=2)
        assert probe(out).audio_streams == 1
        src_p, out_p = packets(clip_with_audio, "audio"), packets(out, "audio")
        assert [p[0] for p in out_p] == [p[0] for p in src_p] and len(src_p) > 5
    no_audio = tmp_path / "noaudio.mp4"
    upscale_identity(clip_with_audio, no_audio, tmp_path, audio=False)
    assert probe(no_audio).audio_streams == 0


@pytest.mark.parametrize("ext,codec", [(".mkv", "srt"), (".mp4", "mov_text")])
def test_subtitles_kept(small_clip, tmp_path, ext, codec):
    src = add_subtitles(small_clip, tmp_path / f"subs{ext}", codec)
    assert probe(src).subtitle_streams == 1
    out = tmp_path / f"out{ext}"
    upscale_identity(src, out, tmp_path)
    assert probe(out).subtitle_streams == 1
    assert [p[0] for p in packets(out, "subtitles")] == [p[0] for p in packets(src, "subtitles")]
    assert b"hello freqvsr" in packets(out, "subtitles")[0][0]


def test_chapters_attachments_and_dispositions_kept(small_clip, tmp_path):
    (tmp_path / "s.srt").write_text(SRT_TEXT)
    (tmp_path / "font.ttf").write_bytes(b"FONT" * 8)
    (tmp_path / "chapters.txt").write_text(
        ";FFMETADATA1\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=100\ntitle=Intro\n"
        "[CHAPTER]\nTIMEBASE=1/1000\nSTART=100\nEND=240\ntitle=Main\n"
    )
    src = tmp_path / "src.mkv"
    run_ffmpeg(
        "-i",
        small_clip,
        "-i",
        tmp_path / "s.srt",
        "-i",
        tmp_path / "chapters.txt",
        "-map",
        "0",
        "-map",
        "1",
        "-map_chapters",
        "2",
        "-c",
        "copy",
        "-c:s",
        "srt",
        "-attach",
        tmp_path / "font.ttf",
        "-metadata:s:t",
        "mimetype=application/x-truetype-font",
        "-disposition:s:0",
        "forced",
        src,
    )
    out = tmp_path / "out.mkv"
    upscale_identity(src, out, tmp_path)
    c = av.open(str(out))
    try:
        assert [ch["metadata"]["title"] for ch in c.chapters()] == ["Intro", "Main"]
        assert c.streams.subtitles[0].disposition & av.stream.Disposition.forced
        att = c.streams.attachments[0]
        assert att.metadata["filename"] == "font.ttf" and bytes(att.data) == b"FONT" * 8
    finally:
        c.close()


def test_subtitle_the_container_cannot_hold_is_skipped_with_warning(small_clip, tmp_path):
    src = add_subtitles(small_clip, tmp_path / "subs.mkv", "srt")
    out = tmp_path / "out.mp4"  # MP4 holds only mov_text; copying never re-encodes
    with pytest.warns(UserWarning, match="subtitle stream"):
        upscale_identity(src, out, tmp_path)
    assert out.is_file() and probe(out).subtitle_streams == 0


# ------------------------------------------------------------------ timestamps
def test_vfr_timestamps_kept(vfr_clip, tmp_path):
    src_frames, src_stream = decode_all(vfr_clip)
    src_pts = [round(float(f.pts * src_stream.time_base) * 1000) for f in src_frames]  # ms
    assert src_pts == [0, 40, 50, 120, 130, 140, 300, 320, 400, 410]
    out = tmp_path / "out.mp4"
    upscale_identity(vfr_clip, out, tmp_path, splits=3)
    frames, stream = decode_all(out)
    assert [float(f.pts * stream.time_base) for f in frames] == pytest.approx([p / 1000 for p in src_pts])
    # Audio/video offset is kept too (the first audio packet's time is unchanged).
    assert packets(out, "audio")[0][1] == pytest.approx(packets(vfr_clip, "audio")[0][1])
    # Matroska (1 ms clock) may shift every stream by the same amount, never apart.
    mkv = tmp_path / "out.mkv"
    upscale_identity(vfr_clip, mkv, tmp_path, splits=3)
    frames, stream = decode_all(mkv)
    times = np.array([float(f.pts * stream.time_base) for f in frames])
    shift = times[0]
    assert times - shift == pytest.approx(np.array(src_pts) / 1000, abs=1e-3)
    assert packets(mkv, "audio")[0][1] - shift == pytest.approx(packets(vfr_clip, "audio")[0][1], abs=1e-3)


def test_segment_boundary_dts_stays_monotonic(tmp_path):
    """Segment 1 ends with short frame intervals, segment 2 starts with long ones: x264's first
    dts of segment 2 (pts minus its B-frame delay) falls before segment 1's last dts."""
    info = VideoInfo(
        path=tmp_path / "none.mp4",
        kind="video",
        width=64,
        height=48,
        num_frames=None,
        fps=Fraction(25),
        time_base=Fraction(1, 1000),
        duration=None,
        pix_fmt="yuv420p",
        bit_depth=8,
        grayscale=False,
    )
    pts1 = [0, 100, 200, 300, 400, 410, 420, 430]
    pts2 = [440, 1440, 2440, 3440, 4440, 5440]
    settings = EncodeSettings().resolve(tmp_path / "o.mp4", info)
    segs = []
    for k, pts in enumerate((pts1, pts2)):
        seg = tmp_path / f"seg{k}.mp4"
        with SegmentWriter(seg, settings, 64, 48, info) as w:
            for p in pts:
                w.write(pattern(p, 64, 48), p)
        segs.append(seg)
    c = av.open(str(segs[0]))
    last_dts = [p.dts for p in c.demux(video=0) if p.size][-1]
    c.close()
    c = av.open(str(segs[1]))
    first_dts = [p.dts for p in c.demux(video=0) if p.size][0]
    c.close()
    assert first_dts <= last_dts  # the situation the fix is for
    for ext in (".mp4", ".mkv"):
        out = tmp_path / f"joined{ext}"
        assemble_video(out, segs, info, audio=False, subtitles=False)
        c = av.open(str(out))
        dts = [p.dts for p in c.demux(video=0) if p.size and p.dts is not None]
        c.close()
        assert all(b > a for a, b in zip(dts, dts[1:]))
        frames, stream = decode_all(out)
        times = [round(float(f.pts * stream.time_base) * 1000) for f in frames]
        assert [t - times[0] for t in times] == pts1 + pts2


@pytest.mark.parametrize(
    "name,settings,codec",
    [
        ("o.mp4", EncodeSettings(codec="libx265"), "hevc"),
        ("o.webm", EncodeSettings(), "vp9"),
        ("o.mkv", EncodeSettings(codec="libsvtav1", preset="12"), "av1"),
        ("o.mkv", EncodeSettings(codec="ffv1"), "ffv1"),
    ],
)
def test_other_codecs_roundtrip(clip_with_audio, tmp_path, name, settings, codec):
    out = tmp_path / name
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # .webm cannot hold the AAC track
        upscale_identity(clip_with_audio, out, tmp_path, settings=settings)
    frames, stream = decode_all(out)
    assert stream.codec_context.codec.id == av.codec.Codec(codec, "r").id
    assert len(frames) == 8
    if name.endswith(".mp4"):
        assert stream.codec_context.codec_tag == "hvc1"


def test_overlapping_segments_are_shifted(tmp_path):
    """Index-based pts that restart at 0 in each segment (pts=None) still join into one stream."""
    info = VideoInfo(
        path=tmp_path / "none",
        kind="images",
        width=32,
        height=24,
        num_frames=None,
        fps=Fraction(25),
        time_base=Fraction(1, 25),
        duration=None,
        pix_fmt="rgb24",
        bit_depth=8,
        grayscale=False,
    )
    settings = EncodeSettings().resolve(tmp_path / "o.mp4", info)
    segs = []
    for k in range(2):
        seg = tmp_path / f"seg{k}.mp4"
        with SegmentWriter(seg, settings, 32, 24, info) as w:
            for i in range(5):
                w.write(pattern(i, 32, 24), None)
        segs.append(seg)
    out = tmp_path / "o.mp4"
    with pytest.warns(UserWarning, match="overlaps"):
        assemble_video(out, segs, info)
    frames, stream = decode_all(out)
    assert [round(float(f.pts * stream.time_base) * 25) for f in frames] == list(range(10))
    # With first_index the writer continues the numbering and nothing needs shifting.
    with SegmentWriter(segs[1], settings, 32, 24, info, first_index=5) as w:
        for i in range(5):
            w.write(pattern(i, 32, 24), None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assemble_video(out, segs, info)
    frames, stream = decode_all(out)
    assert [round(float(f.pts * stream.time_base) * 25) for f in frames] == list(range(10))


@pytest.mark.parametrize("bounds", [[(0, 10)], [(0, 4), (4, 10)]])
def test_mkv_segments_also_assemble(vfr_clip, tmp_path, bounds):
    """Matroska segments store no dts for the first B-frame packets and 1 ms timestamps."""
    with open_input(vfr_clip) as src:
        info, frames = src.info, list(src)
    s = EncodeSettings().resolve(tmp_path / "o.mp4", info)
    segs = []
    for k, (a, b) in enumerate(bounds):
        seg = tmp_path / f"seg{k}.mkv"
        with SegmentWriter(seg, s, info.width, info.height, info) as w:
            for f in frames[a:b]:
                w.write(f.image, f.pts)
        segs.append(seg)
    out = tmp_path / "o.mp4"
    assemble_video(out, segs, info)
    got, stream = decode_all(out)
    times = [float(f.pts * stream.time_base) for f in got]
    assert [t - times[0] for t in times] == pytest.approx([f.time - frames[0].time for f in frames], abs=1.5e-3)
    # dts were rebuilt from pts (not left lagging), so the MP4's duration is the source's.
    assert probe(out).duration == pytest.approx(probe(vfr_clip).duration, abs=0.045)


# ------------------------------------------------------------------ odd sizes, 1 frame, gray, 10-bit
def test_odd_size_is_padded_and_content_kept(tmp_path):
    src = make_video(tmp_path / "odd.mkv", size=(97, 61), frames=3, pix_fmt="yuv444p", options={"qp": "0"})
    info = probe(src)
    assert (info.width, info.height) == (97, 61)
    with open_input(src) as s:
        frames = list(s)
    assert frames[0].image.shape == (61, 97, 3)
    out = tmp_path / "out.mp4"
    # 4:2:0 asked for explicitly: a 4:4:4 source keeps 4:4:4 by default (and needs no padding)
    upscale_identity(src, out, tmp_path, settings=EncodeSettings(pix_fmt="yuv420p"))
    got = probe(out)
    assert (got.width, got.height) == (98, 62)  # padded to even for 4:2:0
    with open_input(out) as s:
        back = next(iter(s)).image
    assert psnr(back[:61, :97], frames[0].image) > 28  # CRF 18 + 4:2:0 on a busy pattern
    assert np.abs(back[:61, 97].astype(int) - back[:61, 96].astype(int)).mean() < 6  # replicated column


def test_single_frame_video(tmp_path):
    src = make_video(tmp_path / "one.mp4", frames=1)
    info = probe(src)
    assert info.num_frames == 1
    out = tmp_path / "out.mkv"
    upscale_identity(src, out, tmp_path)
    assert len(decode_all(out)[0]) == 1


def test_grayscale_video_and_png_folder(tmp_path):
    ramp = lambda i: [np.tile(np.arange(16, 80, dtype=np.uint8), (48, 1))]  # noqa: E731
    # HEVC keeps 4:0:0 as "gray" when decoded (H.264 decoders return yuv420p with flat chroma).
    src = make_video(
        tmp_path / "gray.mkv",
        codec="libx265",
        pix_fmt="gray",
        frames=2,
        planes_fn=ramp,
        options={"x265-params": "lossless=1:log-level=error"},
        color_range=2,
    )
    info = probe(src)
    assert info.grayscale and info.pix_fmt == "gray"
    with open_input(src) as s:
        img = next(iter(s)).image
    assert img.shape == (48, 64, 3)
    assert np.array_equal(img[..., 0], img[..., 1]) and np.array_equal(img[..., 1], img[..., 2])
    assert np.abs(img[0, :, 0].astype(int) - np.arange(16, 80)).max() <= 1  # full range: identity
    folder = tmp_path / "grayframes"
    folder.mkdir()
    write_png(folder / "f1.png", np.full((8, 10), 100, np.uint8))
    info = probe(folder)
    assert info.grayscale and info.bit_depth == 8
    with open_input(folder) as s:
        img = next(iter(s)).image
    assert img.shape == (8, 10, 3) and (img == 100).all()


def test_ten_bit_in_and_out(tmp_path):
    h, w = 48, 64
    y10 = (np.arange(h * w).reshape(h, w) % 876 + 64).astype(np.uint16)  # > 256 distinct levels
    planes = lambda i: [y10, np.full((h // 2, w // 2), 512, np.uint16), np.full((h // 2, w // 2), 512, np.uint16)]  # noqa: E731
    src = make_video(tmp_path / "ten.mkv", pix_fmt="yuv420p10le", frames=2, planes_fn=planes, options={"qp": "0"})
    info = probe(src)
    assert info.bit_depth == 10 and info.pix_fmt == "yuv420p10le"
    with open_input(src) as s:
        img = next(iter(s)).image
    assert img.dtype == np.uint16
    assert np.mean(img % 257 != 0) > 0.5  # not 8-bit values scaled up
    assert len(np.unique(img[..., 1])) > 256
    settings = EncodeSettings().resolve(tmp_path / "out.mkv", info)
    assert settings.pix_fmt == "yuv420p10le"
    lossy = tmp_path / "lossy.mp4"  # default settings: x264 CRF 18 in yuv420p10le
    upscale_identity(src, lossy, tmp_path)
    got = probe(lossy)
    assert (got.bit_depth, got.pix_fmt) == (10, "yuv420p10le")
    with open_input(lossy) as s:
        back = next(iter(s)).image
    assert np.mean(back % 257 != 0) > 0.5 and len(np.unique(back[..., 1])) > 256
    out = tmp_path / "out.mkv"
    upscale_identity(src, out, tmp_path, settings=EncodeSettings(lossless=True))
    got = probe(out)
    assert got.bit_depth == 10 and got.pix_fmt == "yuv444p10le"
    with open_input(out) as s:
        back = next(iter(s)).image
    assert back.dtype == np.uint16 and len(np.unique(back[..., 1])) > 256
    assert np.abs(back.astype(int) - img.astype(int)).mean() < 80  # ~0.1 % of full scale


# ------------------------------------------------------------------ colour
def _expected_rgb(y, u, v, kr, kb, full):
    if full:
        yy, uu, vv = y / 255, (u - 128) / 255, (v - 128) / 255
    else:
        yy, uu, vv = (y - 16) / 219, (u - 128) / 224, (v - 128) / 224
    r = yy + 2 * (1 - kr) * vv
    b = yy + 2 * (1 - kb) * uu
    g = (yy - kr * r - kb * b) / (1 - kr - kb)
    return np.clip(np.array([r, g, b]) * 255, 0, 255)


@pytest.mark.parametrize(
    "colorspace,color_range,kr,kb,full",
    [(1, 2, 0.2126, 0.0722, True), (6, 1, 0.299, 0.114, False), (5, 2, 0.299, 0.114, True)],
)
def test_decode_uses_file_matrix_and_range(tmp_path, colorspace, color_range, kr, kb, full):
    yuv = (128, 64, 192)
    src = make_video(
        tmp_path / "flat.mkv",
        yuv=yuv,
        frames=1,
        pix_fmt="yuv444p",
        options={"qp": "0"},
        colorspace=colorspace,
        color_range=color_range,
    )
    info = probe(src)
    assert (info.colorspace, info.color_range) == (colorspace, color_range)
    with open_input(src) as s:
        rgb = next(iter(s)).image[10, 10].astype(float)
    assert rgb == pytest.approx(_expected_rgb(*yuv, kr, kb, full), abs=1)


def test_encode_uses_and_tags_source_matrix(tmp_path):
    src = make_video(
        tmp_path / "hd.mkv",
        frames=2,
        colorspace=1,
        color_range=2,
        color_primaries=1,
        color_trc=1,
        options={"qp": "0"},
        pix_fmt="yuv444p",
    )
    info = probe(src)
    assert (info.colorspace, info.color_range, info.color_primaries, info.color_trc) == (1, 2, 1, 1)
    rgb = np.zeros((48, 64, 3), np.uint8)
    rgb[:] = (200, 40, 90)
    s = EncodeSettings(lossless=True).resolve(tmp_path / "o.mkv", info)
    seg = tmp_path / "seg.mp4"
    with SegmentWriter(seg, s, 64, 48, info) as w:
        w.write(rgb, None)
        w.write(rgb, None)
    out = tmp_path / "o.mkv"
    assemble_video(out, [seg], info)
    got = probe(out)
    assert (got.colorspace, got.color_range, got.color_primaries, got.color_trc) == (1, 2, 1, 1)
    frame = decode_all(out)[0][0]
    assert frame.format.name in ("yuv444p", "yuvj444p")  # full-range H.264 decodes as yuvj
    y = np.frombuffer(bytes(frame.planes[0]), np.uint8)[5]  # row 0, column 5 of the luma plane
    assert abs(int(y) - (0.2126 * 200 + 0.7152 * 40 + 0.0722 * 90)) <= 1  # BT.709 full-range luma
    with open_input(out) as s2:
        back = next(iter(s2)).image[5, 5].astype(int)
    assert np.abs(back - (200, 40, 90)).max() <= 2


def test_untagged_hd_output_is_tagged_bt709(tmp_path):
    info = VideoInfo(
        path=tmp_path / "x",
        kind="images",
        width=32,
        height=24,
        num_frames=1,
        fps=Fraction(25),
        time_base=Fraction(1, 25),
        duration=0.04,
        pix_fmt="rgb24",
        bit_depth=8,
        grayscale=False,
    )
    s = EncodeSettings().resolve(tmp_path / "o.mp4", info)
    with SegmentWriter(tmp_path / "hd.mp4", s, 1280, 720, info) as w:
        w.write(np.full((720, 1280, 3), 120, np.uint8), None)
    got = probe(tmp_path / "hd.mp4")
    assert (got.colorspace, got.color_range) == (1, 1)


# ------------------------------------------------------------------ rotation
def test_rotation_kept(tmp_path):
    src = make_video(tmp_path / "rot.mp4", rotation=90, frames=3)
    info = probe(src)
    assert info.rotation == 90 and (info.width, info.height) == (64, 48)
    out = tmp_path / "out.mp4"
    upscale_identity(src, out, tmp_path)
    assert probe(out).rotation == 90


# ------------------------------------------------------------------ image folders + PNG output
def test_image_folder_natural_order_and_16bit(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    imgs = {i: pattern(i, 20, 12, bits=16) for i in (1, 2, 10)}
    for i, img in imgs.items():
        write_png(folder / f"frame{i}.png", img)
    (folder / "notes.txt").write_text("ignored")
    info = probe(folder)
    assert (info.kind, info.num_frames, info.fps, info.bit_depth) == ("images", 3, 25, 16)
    with open_input(folder, fps=30) as s:
        assert s.info.fps == 30
        frames = list(s)
    assert [f.index for f in frames] == [0, 1, 2]
    for f, i in zip(frames, (1, 2, 10)):  # frame2 before frame10
        assert f.image.dtype == np.uint16 and np.array_equal(f.image, imgs[i])


def test_image_folder_size_mismatch(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    write_png(folder / "a1.png", pattern(0, 10, 6))
    write_png(folder / "a2.png", pattern(0, 12, 6))
    with open_input(folder) as s:
        it = iter(s)
        next(it)
        with pytest.raises(InputError, match="a2.png"):
            next(it)


def test_frame_folder_writer_roundtrip_and_policy(tmp_path):
    out = tmp_path / "out"
    img8, img16 = pattern(0, 10, 6), pattern(1, 10, 6, bits=16)
    with FrameFolderWriter(out) as w:
        w.write(img8, 0)
        w.write(img8, 1)
        assert not out.exists()  # nothing visible until finish
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == ["00000000.png", "00000001.png"]
    with open_input(out) as s:
        assert np.array_equal(next(iter(s)).image, img8)
    # A previous freqvsr output is replaced; 16-bit stays 16-bit.
    w = FrameFolderWriter(out)
    w.write(img16, 0)
    w.finish()
    with open_input(out) as s:
        back = next(iter(s)).image
    assert back.dtype == np.uint16 and np.array_equal(back, img16)
    # Abort leaves the previous output untouched and no temporary behind.
    w = FrameFolderWriter(out)
    w.write(img8, 0)
    w.abort()
    assert probe(out).bit_depth == 16
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    # A user's own non-empty folder is never overwritten.
    mine = tmp_path / "photos"
    mine.mkdir()
    (mine / "a.jpg").write_bytes(b"x")
    with pytest.raises(OutputError, match="photos"):
        FrameFolderWriter(mine)


def test_is_video_output():
    assert is_video_output("a.MP4") and is_video_output(Path("x/b.mkv")) and is_video_output("c.webm")
    assert not is_video_output("frames") and not is_video_output("frames/")


# ------------------------------------------------------------------ encode settings
def test_encode_settings_defaults_and_validation(tmp_path):
    info8 = VideoInfo(
        path=tmp_path / "x",
        kind="video",
        width=8,
        height=8,
        num_frames=1,
        fps=Fraction(25),
        time_base=Fraction(1, 25),
        duration=0.04,
        pix_fmt="yuv420p",
        bit_depth=8,
        grayscale=False,
    )
    info10 = VideoInfo(**{**info8.__dict__, "pix_fmt": "yuv420p10le", "bit_depth": 10})
    r = EncodeSettings().resolve(Path("o.mp4"), info8)
    assert (r.codec, r.crf, r.preset, r.pix_fmt, r.lossless) == ("libx264", 18, "veryfast", "yuv420p", False)
    assert EncodeSettings().resolve(Path("o.webm"), info8).codec == "libvpx-vp9"
    assert EncodeSettings().resolve(Path("o.mkv"), info10).pix_fmt == "yuv420p10le"
    assert EncodeSettings(codec="libx265").resolve(Path("o.mp4"), info10).pix_fmt == "yuv420p10le"
    ll = EncodeSettings(lossless=True).resolve(Path("o.mkv"), info8)
    assert ll.pix_fmt == "yuv444p" and ll.encoder_options()["qp"] == "0"
    ffv1 = EncodeSettings(codec="ffv1").resolve(Path("o.mkv"), info10)
    assert ffv1.lossless and ffv1.crf is None and ffv1.pix_fmt == "yuv444p10le"
    with pytest.warns(UserWarning, match="10-bit"):
        assert EncodeSettings().resolve(Path("o.webm"), info10).pix_fmt == "yuv420p"
    bad = [
        (EncodeSettings(codec="h264_nvenc"), "o.mp4", "unknown codec"),
        (EncodeSettings(codec="ffv1"), "o.mp4", "cannot be written"),
        (EncodeSettings(crf=70), "o.mp4", "out of range"),
        (EncodeSettings(codec="libvpx-vp9", preset="slow"), "o.webm", "preset"),
        (EncodeSettings(pix_fmt="rgb24"), "o.mp4", "pixel format"),
        (EncodeSettings(lossless=True, crf=10), "o.mp4", "cannot be combined"),
        (EncodeSettings(), "o.gif", "unknown video container"),
        (EncodeSettings(), "o.avi", "AVI output is not supported"),
    ]
    for settings, name, msg in bad:
        with pytest.raises(UsageError, match=msg):
            settings.resolve(Path(name), info8)


# ------------------------------------------------------------------ errors
def test_bad_inputs_raise_one_line_input_errors(tmp_path, small_clip):
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 20)
    data = small_clip.read_bytes()
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(data[: len(data) // 2])  # moov atom (at the end) is gone
    faststart = make_video(tmp_path / "faststart.mp4", frames=12, container_options={"movflags": "+faststart"})
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(faststart.read_bytes()[: faststart.stat().st_size * 2 // 3])  # index intact, data cut
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    zero = tmp_path / "zero.avi"  # AVI keeps a stream header without packets (MP4 drops the track)
    c = av.open(str(zero), "w")
    vs = c.add_stream("libx264", rate=25)
    vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
    c.start_encoding()
    c.close()
    audio_only = make_video(tmp_path / "audio.m4a", frames=0, audio=True)
    cases = [
        (tmp_path / "missing.mp4", "no such file"),
        (text, "not a readable video"),
        (truncated, "not a readable video"),
        (cut, "truncated"),
        (zero, "no frames"),
        (empty_dir, "no images"),
        (audio_only, "no video stream"),
    ]
    for path, msg in cases:
        with pytest.raises(InputError, match=msg) as e:
            probe(path)
        assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_unwritable_output_raises_output_error(tmp_path, small_clip):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    info = probe(small_clip)
    seg = tmp_path / "seg.mp4"
    with SegmentWriter(seg, EncodeSettings().resolve(seg, info), 64, 48, info) as w:
        w.write(pattern(0, 64, 48), 0)
    with pytest.raises(OutputError, match="does not exist"):
        assemble_video(blocker / "out.mp4", [seg], info)
    with pytest.raises(OutputError):
        FrameFolderWriter(blocker / "frames")
    with pytest.raises(OutputError):
        SegmentWriter(blocker / "seg.mp4", EncodeSettings().resolve(seg, info), 64, 48, info)


def test_failed_assemble_leaves_output_untouched(tmp_path, small_clip):
    info = probe(small_clip)
    seg = tmp_path / "seg0.mp4"
    with SegmentWriter(seg, EncodeSettings().resolve(seg, info), 64, 48, info) as w:
        for i in range(3):
            w.write(pattern(i, 64, 48), i)
    broken = tmp_path / "seg1.mp4"
    broken.write_bytes(b"garbage" * 100)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "result.mp4"
    with pytest.raises((OutputError, InputError)):
        assemble_video(out, [seg, broken], info)
    assert not out.exists() and os.listdir(out_dir) == []
    out.write_bytes(b"previous result")
    with pytest.raises((OutputError, InputError)):
        assemble_video(out, [seg, broken], info)
    assert out.read_bytes() == b"previous result" and os.listdir(out_dir) == ["result.mp4"]


def test_segment_writer_removes_partial_file_on_error(tmp_path, small_clip):
    info = probe(small_clip)
    seg = tmp_path / "seg.mp4"
    with pytest.raises(ZeroDivisionError):
        with SegmentWriter(seg, EncodeSettings().resolve(seg, info), 64, 48, info) as w:
            w.write(pattern(0, 64, 48), 0)
            1 / 0
    assert not seg.exists()
    with SegmentWriter(seg, EncodeSettings().resolve(seg, info), 64, 48, info) as w:
        with pytest.raises(ValueError):
            w.write(pattern(0, 32, 48), 0)  # wrong size


def test_frames_beyond_ffmpegs_size_limit_are_written_by_pillow(tmp_path, monkeypatch):
    """The x4 output of an 8K input (531 Mpx) is beyond what FFmpeg holds in one picture; such
    frames go through Pillow (8-bit), and deeper ones are refused with the reason."""
    from PIL import Image

    from freqvsr.io import frame_folder

    monkeypatch.setattr(frame_folder, "_FFMPEG_MAX_AREA", 150 * 150)  # a 24x24 frame counts as "large"
    assert not frame_folder.ffmpeg_can_hold(24, 24) and frame_folder.ffmpeg_can_hold(8, 8)
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)
    rgba = rng.integers(0, 256, (24, 24, 4), dtype=np.uint8)
    for name, image in (("rgb", rgb), ("rgba", rgba)):
        w = frame_folder.FrameFolderWriter(tmp_path / name)
        w.write(image, 0)
        w.finish()
        (png,) = sorted((tmp_path / name).glob("*.png"))
        assert np.array_equal(np.asarray(Image.open(png)), image)
    assert frame_folder.frame_size_problem(24, 24, 8) is None
    assert "deeper than 8 bits" in frame_folder.frame_size_problem(24, 24, 10)
    w = frame_folder.FrameFolderWriter(tmp_path / "deep")
    with pytest.raises(OutputError, match="deeper than 8 bits"):
        w.write(rgb.astype(np.uint16) * 257, 0)
