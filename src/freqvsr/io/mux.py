"""Final assembly: remux encoded segments plus the source's audio/subtitles into the output file.

Nothing is re-encoded here. Video packets of the segments are copied in order; audio and
subtitle packets of the source are copied bit for bit into every stream the output container
accepts (others are skipped with a warning). The two packet flows are merged by timestamp, one
packet at a time, so memory does not depend on the length of the video.

The output is written to a hidden temporary file in the destination folder and renamed over
``output`` only after the trailer is written: a failure never leaves a half-written file.
"""

from __future__ import annotations

import errno
import heapq
import itertools
import os
import warnings
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av

from freqvsr.errors import InputError, OutputError, UsageError
from freqvsr.io.encode import VIDEO_EXTENSIONS, container_options
from freqvsr.io.reader import VideoInfo

# Container-level tags that describe the *old* file, not ours.
_SKIP_CONTAINER_TAGS = {"encoder", "major_brand", "minor_version", "compatible_brands", "duration"}
_STREAM_TAGS = ("language", "title")
# Packets read ahead per segment to find its earliest pts: more than any B-frame reorder depth.
_REORDER_LOOKAHEAD = 32


def temporary_path(output: Path) -> Path:
    """Hidden name beside ``output`` with the same extension (the muxer picks its format from it)."""
    return output.with_name(f".{output.stem}.freqvsr-partial-{os.getpid()}{output.suffix}")


def assemble_video(
    output,
    segments,
    source: VideoInfo | None,
    *,
    audio: bool = True,
    subtitles: bool = True,
) -> None:
    """Remux ``segments`` (in order) + the source's audio/subtitle streams into ``output``.

    Keeps the source time base (where the container can express it), per-frame timestamps,
    rotation (display matrix) and the colour tags the segments were encoded with. Across segment
    boundaries decode timestamps are forced to increase (a B-frame encoder's first dts of a new
    segment can fall before the previous segment's last one when frame intervals change); the
    presentation timestamps are never altered.
    """
    output = Path(output)
    segments = [Path(s) for s in segments]
    if not segments:
        raise ValueError("assemble_video needs at least one segment")
    if output.suffix.lower() not in VIDEO_EXTENSIONS:
        raise UsageError(
            f"{output}: unknown video container '{output.suffix}' (use one of {', '.join(VIDEO_EXTENSIONS)})"
        )
    parent = output.parent
    if not parent.is_dir():
        raise OutputError(f"{output}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{output}: folder {parent} is not writable")
    if output.is_dir():
        raise OutputError(f"{output}: is a folder, expected a video file name")
    for seg in segments:
        if not seg.is_file():
            raise InputError(f"{seg}: segment file is missing")

    tmp = temporary_path(output)
    try:
        try:
            _assemble(tmp, output, segments, source, audio, subtitles)
        except av.FFmpegError as e:
            copied = (
                source is not None
                and source.kind == "video"
                and ((audio and source.audio_streams) or (subtitles and source.subtitle_streams))
            )
            if not copied or getattr(e, "errno", None) in (errno.ENOSPC, errno.EIO, errno.EDQUOT):
                raise  # a disk problem, not the streams: say so
            # The muxer refused the copied streams (timestamps it cannot store, ...): the video is
            # what the user waited for, so write it alone rather than fail after all the work.
            os.remove(tmp) if tmp.exists() else None
            warnings.warn(
                f"{source.path}: its audio/subtitle streams could not be copied ({_short(e)}); "
                f"{output.name} has video only",
                stacklevel=2,
            )
            _assemble(tmp, output, segments, source, False, False)
        os.replace(tmp, output)
    except BaseException as e:
        try:
            os.remove(tmp)
        except FileNotFoundError:
            pass
        if isinstance(e, (av.FFmpegError, OSError)) and not isinstance(e, (OutputError, InputError)):
            raise OutputError(f"{output}: writing failed ({_short(e)})") from None
        raise


def _assemble(
    tmp: Path, output: Path, segments: list[Path], source: VideoInfo | None, audio: bool, subtitles: bool
) -> None:
    opened: list = []
    try:
        first = av.open(str(segments[0]))
        opened.append(first)
        if not first.streams.video:
            raise InputError(f"{segments[0]}: segment has no video stream")
        template = first.streams.video[0]
        time_base = Fraction(source.time_base) if source is not None else Fraction(template.time_base)

        out = av.open(str(tmp), "w", container_options=container_options(output, time_base))
        opened.append(out)
        try:
            # opaque=True keeps the template's own codec: the decoder name (e.g. libdav1d) has no
            # encoder of that name, and nothing is encoded here anyway.
            ov = out.add_stream_from_template(template, opaque=True)
        except ValueError:
            raise OutputError(
                f"{output}: a {output.suffix} file cannot hold {template.codec_context.name} video"
            ) from None
        ov.time_base = time_base
        if template.codec_context.name == "vp9" and _alpha_mode(template):
            # VP9's alpha rides in each block's BlockAdditional (copied with the packets); the
            # track's AlphaMode flag tells a player, and our reader, to decode it. The Matroska
            # muxer writes that flag from the stream's pixel format (a tag of that name is only
            # a tag), and the segment's demuxer reports the colour planes alone.
            ov.codec_context.pix_fmt = "yuva420p"
        if template.codec_context.name == "hevc" and output.suffix.lower() in (".mp4", ".mov", ".m4v"):
            ov.codec_context.codec_tag = "hvc1"  # the tag Apple players require (FFmpeg's default is hev1)
        rate = source.fps if source is not None else template.average_rate
        if rate:
            # Matroska derives its per-track default frame duration from this; MP4 ignores it.
            ov.codec_context.framerate = Fraction(rate)
        if source is not None and source.rotation:
            ov.set_display_rotation(source.rotation)

        src = None
        copies: dict[int, av.stream.Stream] = {}
        if source is not None and source.kind == "video" and (audio or subtitles):
            try:
                src = av.open(str(source.path), metadata_errors="replace")
            except (av.FFmpegError, OSError) as e:
                raise InputError(
                    f"{source.path}: cannot reopen the source to copy audio/subtitles ({_short(e)})"
                ) from None
            opened.append(src)
            wanted = (list(src.streams.audio) if audio else []) + (list(src.streams.subtitles) if subtitles else [])
            for ist in wanted:
                name = ist.codec_context.name if ist.codec_context is not None else "unknown"
                try:
                    ost = out.add_stream_from_template(ist)
                except (ValueError, av.FFmpegError):
                    warnings.warn(
                        f"{source.path}: {ist.type} stream #{ist.index} ({name}) cannot be stored in a "
                        f"{output.suffix} file; it is left out",
                        stacklevel=3,
                    )
                    continue
                for key in _STREAM_TAGS:
                    if key in ist.metadata:
                        ost.metadata[key] = ist.metadata[key]
                ost.disposition = ist.disposition  # default / forced / hearing-impaired flags
                copies[ist.index] = ost
            if subtitles and src.streams.subtitles and out.format.name == "matroska":
                # Fonts attached for styled (ASS) subtitles; they have no packets.
                for att in src.streams.attachments:
                    try:
                        new_att = out.add_stream_from_template(att)
                        new_att.metadata.update(att.metadata)
                    except (ValueError, av.FFmpegError):
                        warnings.warn(f"{source.path}: attachment #{att.index} left out", stacklevel=3)
            for key, value in src.metadata.items():
                if key.lower() not in _SKIP_CONTAINER_TAGS:
                    out.metadata[key] = value
            try:
                chapters = src.chapters()
                if chapters:
                    out.set_chapters(chapters)
            except (AttributeError, ValueError, av.FFmpegError):  # older PyAV / odd chapters
                pass

        out.start_encoding()  # header written: output time bases are final now
        out_tb = Fraction(ov.time_base)

        flows = [_video_packets(segments, first, opened, out_tb, ov, output)]
        if copies:
            flows.append(_source_packets(src, copies))
        for _, _, _, packet, ost in heapq.merge(*flows):
            packet.stream = ost
            out.mux(packet)
        out.close()
    finally:
        for c in reversed(opened):
            try:
                c.close()
            except Exception:
                pass


def _alpha_mode(stream) -> bool:
    """The Matroska track flag for VP9 with alpha (FFmpeg's demuxer spells it alpha_mode; as a
    copied tag it comes back as ALPHA_MODE)."""
    return any(k.lower() == "alpha_mode" and str(v).strip() == "1" for k, v in stream.metadata.items())


def _rescale(ts, tb, out_tb) -> int | None:
    if ts is None:
        return None
    return round(Fraction(ts) * Fraction(tb) / out_tb)


def _key(packet) -> float:
    ts = packet.dts if packet.dts is not None else packet.pts
    return float(ts * packet.time_base)


def _video_packets(segments: list[Path], first, opened: list, out_tb: Fraction, ov, output: Path) -> Iterator[tuple]:
    """Video packets of all segments, in order, with timestamps in the output time base.

    Two repairs make separately encoded segments one valid stream:
    - a segment that starts before the previous one ended (e.g. written with index-based pts
      that restarted at 0) is shifted to start one frame after it, with a warning;
    - decode timestamps are forced to increase across boundaries (a B-frame encoder's first dts
      is its first pts minus its reorder delay, which can fall before the previous segment's last
      dts when frame intervals change). Presentation timestamps are never altered by this.
    Segments in containers without dts (Matroska, NUT) get theirs rebuilt from the pts.
    Only a few packets per segment are held (to find its earliest pts): memory stays bounded.
    """
    seq = 0
    last_dts = None
    prev_max = None  # largest pts so far (output time base) and that frame's duration
    prev_dur = 1
    for i, path in enumerate(segments):
        c = first if i == 0 else av.open(str(path))
        if i:
            opened.append(c)
        if not c.streams.video:
            raise InputError(f"{path}: segment has no video stream")
        packets = (p for p in c.demux(c.streams.video[0]) if p.size and (p.pts is not None or p.dts is not None))
        head = list(itertools.islice(packets, _REORDER_LOOKAHEAD))
        starts = [_rescale(p.pts, p.time_base, out_tb) for p in head if p.pts is not None]
        # Matroska/NUT store no dts; FFmpeg's guesses for B-frame streams lag (and the first ones
        # are missing). Rebuild them from the pts, which those containers do store exactly.
        rebuild = any(p.dts is None for p in head) and all(p.pts is not None for p in head)
        if rebuild:
            delay, first_pts, step = _reorder_delay(head, out_tb)
            pending: list[int] = []
        shift = 0
        if starts and prev_max is not None and min(starts) <= prev_max:
            # Only overlap counts: VFR segments may legitimately follow closer than a nominal
            # frame duration. Overlapping ones are placed one frame after the previous end.
            shift = prev_max + prev_dur - min(starts)
            warnings.warn(
                f"{path}: segment overlaps the previous one by {float(shift * out_tb):.3f}s; "
                "its timestamps are shifted to follow it",
                stacklevel=4,
            )
        for k, packet in enumerate(itertools.chain(head, packets)):
            pts = _rescale(packet.pts, packet.time_base, out_tb)
            dts = _rescale(packet.dts, packet.time_base, out_tb)
            if rebuild and pts is not None:
                dts = _rebuilt_dts(pending, pts, k, delay, first_pts, step)
            duration = _rescale(packet.duration, packet.time_base, out_tb) or 0
            if pts is not None:
                pts += shift
            if dts is not None:
                dts += shift
            else:  # no dts and nothing to rebuild it from
                dts = pts if last_dts is None else last_dts + 1
            if last_dts is not None and dts <= last_dts:
                dts = last_dts + 1
            if pts is not None and dts > pts:
                raise OutputError(
                    f"{output}: cannot order frames at {float(pts * out_tb):.3f}s "
                    f"(time base {out_tb} too coarse to join the segments)"
                )
            last_dts = dts
            if pts is not None and (prev_max is None or pts > prev_max):
                prev_max, prev_dur = pts, max(duration, 1)
            packet.pts, packet.dts, packet.duration = pts, dts, duration
            packet.time_base = out_tb
            seq += 1
            # (time, flow, order, packet, output stream): ties go to video, then file order.
            yield (float(dts * out_tb), 0, seq, packet, ov)
        c.close()


def _reorder_delay(head: list, out_tb: Fraction) -> tuple[int, int, int]:
    """(reorder delay in packets, smallest pts, nominal frame step) of a segment's first packets.

    The delay D is how many packets a frame can be decoded after its display rank; then
    dts_k = (k - D)-th smallest pts is a valid, increasing decode timestamp with dts_k <= pts_k.
    """
    pts = [_rescale(p.pts, p.time_base, out_tb) for p in head]
    rank = {v: r for r, v in enumerate(sorted(pts))}
    delay = max(0, max(k - rank[v] for k, v in enumerate(pts)))
    step = max(1, _rescale(head[0].duration, head[0].time_base, out_tb) or 1)
    return delay, min(pts), step


def _rebuilt_dts(pending: list[int], pts: int, k: int, delay: int, first_pts: int, step: int) -> int:
    """Streaming dts_k = (k - delay)-th smallest pts (a heap of at most delay + 1 values)."""
    heapq.heappush(pending, pts)
    if k >= delay:
        dts = heapq.heappop(pending)
    else:  # before the first frame: step back from it by whole frames
        dts = first_pts - (delay - k) * step
    return min(dts, pts)


def _source_packets(src, copies: dict) -> Iterator[tuple]:
    """Audio/subtitle packets of the source, with timestamps that never go back.

    Joined recordings restart their clocks; the reader re-times the video to follow on (see
    :class:`freqvsr.io.FrameSource`), and each copied stream here continues right after its own
    last packet in the same way, which keeps them in step with the video.
    """
    seq = 0
    streams = [s for s in src.streams if s.index in copies]
    state: dict[int, list[int]] = {}  # stream index -> [offset, end of the last packet]
    for packet in src.demux(*streams):
        if packet.size == 0 or (packet.pts is None and packet.dts is None):
            continue
        offset, end = state.setdefault(packet.stream_index, [0, None])
        ts = packet.dts if packet.dts is not None else packet.pts
        if end is not None and ts + offset < end - (packet.duration or 0):
            offset = end - ts  # a jump back by more than one packet: continue after the last one
        if offset:
            if packet.pts is not None:
                packet.pts += offset
            if packet.dts is not None:
                packet.dts += offset
        state[packet.stream_index] = [offset, ts + offset + max(packet.duration or 0, 1)]
        seq += 1
        yield (_key(packet), 1, seq, packet, copies[packet.stream_index])


def _short(e: BaseException) -> str:
    """First line of an error without the errno/path decoration FFmpeg errors carry."""
    text = getattr(e, "strerror", None) or str(e)
    lines = str(text).strip().splitlines()
    return lines[0] if lines else type(e).__name__
