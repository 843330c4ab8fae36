"""Entering a video at a keyframe (``FrameSource.start_near``, used by processes that share one
video): the frames that come out are exactly those of a decode from the start, with the same
indices and timestamps; where timestamps cannot place every frame the source reads from the start;
damage is an error rather than a silent shift of indices.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from clips import make_video, run_ffmpeg
from freqvsr.errors import InputError
from freqvsr.io import open_input

FRAMES = 120
GOP = 12


def _all(path: Path) -> list[tuple[int, int | None, np.ndarray]]:
    with open_input(path) as src:
        return [(f.index, f.pts, f.image) for f in src]


def _from(path: Path, target: int) -> tuple[int, list[tuple[int, int | None, np.ndarray]]]:
    with open_input(path) as src:
        start = src.start_near(target)
        return start, [(f.index, f.pts, f.image) for f in src]


def _same(got, want) -> None:
    assert [g[:2] for g in got] == [w[:2] for w in want]
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g[2], w[2])


@pytest.mark.parametrize(
    "name,params",
    [
        ("closed.mp4", f"keyint={GOP}:min-keyint={GOP}:bframes=2:scenecut=0"),
        ("open.mkv", f"keyint={GOP}:min-keyint={GOP}:bframes=3:b-pyramid=normal:open-gop=1:scenecut=0"),
        ("closed.ts", f"keyint={GOP}:min-keyint={GOP}:bframes=2:scenecut=0"),
    ],
)
def test_entering_at_a_keyframe_gives_the_frames_of_a_full_decode(tmp_path, name, params):
    clip = make_video(tmp_path / name, frames=FRAMES, size=(48, 32), options={"x264-params": params})
    full = _all(clip)
    assert len(full) == FRAMES
    for target in (0, 5, 30, 61, FRAMES - 1):
        start, got = _from(clip, target)
        assert start <= target
        if target >= GOP:
            # a keyframe before the target, not the start (it entered mid-stream)
            assert target - 2 * GOP < start <= target and start % GOP == 0, (name, target, start)
        _same(got, full[start:])


def test_an_image_folder_starts_exactly_there(tmp_path):
    clip = make_video(tmp_path / "c.mp4", frames=8, size=(16, 12))
    folder = tmp_path / "frames"
    folder.mkdir()
    run_ffmpeg("-i", clip, folder / "f%03d.png")
    full = _all(folder)
    start, got = _from(folder, 5)
    assert start == 5
    _same(got, full[5:])


def test_timestamps_that_jump_back_read_from_the_start(tmp_path):
    """Joined recordings (`cat a.ts b.ts`): timestamps cannot place the frames, so no seek."""
    params = {"x264-params": f"keyint={GOP}:min-keyint={GOP}:scenecut=0"}
    a = make_video(tmp_path / "a.ts", frames=36, size=(32, 24), options=params)
    joined = tmp_path / "joined.ts"
    joined.write_bytes(a.read_bytes() * 2)
    with pytest.warns(UserWarning, match="jump back"):
        full = _all(joined)
    assert len(full) == 72
    with pytest.warns(UserWarning, match="jump back"):
        start, got = _from(joined, 50)
    assert start == 0
    _same(got, full)


def test_a_frame_that_cannot_be_decoded_is_an_error_when_shared(tmp_path):
    """Skipping a damaged frame would shift the indices of one process against another's."""
    from test_corrupt import _zero_packets

    clean = make_video(tmp_path / "clean.mkv", frames=30, size=(16, 12), codec="mjpeg", pix_fmt="yuvj420p")
    broken = _zero_packets(clean, tmp_path / "broken.mkv", range(20, 22))
    with open_input(broken) as src:
        assert src.start_near(15) == 15  # every MJPEG frame is a keyframe
        with pytest.raises(InputError, match=r"broken\.mkv: corrupt data near frame 20.*one process"):
            for _ in src:
                pass
    with open_input(broken) as src:  # rank 0 (from the start) is held to the same rule
        assert src.start_near(0) == 0
        with pytest.raises(InputError, match="broken.mkv: corrupt data near frame 20"):
            for _ in src:
                pass


def test_start_near_only_before_iterating(tmp_path):
    clip = make_video(tmp_path / "c.mp4", frames=4, size=(16, 12))
    with open_input(clip) as src:
        next(iter(src))
        with pytest.raises(RuntimeError):
            src.start_near(2)
