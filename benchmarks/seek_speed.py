"""How long a process that shares a video takes to reach its first frame: reading the video from
its start (what every rank did before FrameSource.start_near) against entering it at a keyframe.

    python benchmarks/seek_speed.py [--frames 3000] [--size 1280x720] [--target 2900]

Makes an H.264 clip with the ffmpeg binary of imageio-ffmpeg (testsrc2, preset veryfast, x264's
default GOP of 250 frames) in a temporary folder; one decoder thread setting as the reader uses.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

from freqvsr.io import open_input


def _reach(path: Path, target: int, seek: bool) -> tuple[float, int]:
    started = time.perf_counter()
    with open_input(path) as src:
        first = src.start_near(target) if seek else 0
        for frame in src:
            if frame.index >= target:
                break
    return time.perf_counter() - started, first


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=3000)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--target", type=int, default=2900)
    args = ap.parse_args()
    import imageio_ffmpeg

    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "long.mp4"
        subprocess.run(
            [
                imageio_ffmpeg.get_ffmpeg_exe(),
                "-hide_banner",
                "-loglevel",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                f"testsrc2=size={args.size}:rate=25",
                "-frames:v",
                str(args.frames),
                "-c:v",
                "libx264",
                "-preset",
                "veryfast",
                "-pix_fmt",
                "yuv420p",
                str(clip),
            ],
            check=True,
        )
        full, _ = _reach(clip, args.target, seek=False)
        entered, first = _reach(clip, args.target, seek=True)
    print(f"{args.frames} frames {args.size}, H.264 GOP 250; time to frame {args.target}:")
    print(f"  read from the start     {full:7.2f} s")
    print(f"  start_near (keyframe {first}) {entered:7.2f} s   ({full / entered:.1f}x faster)")


if __name__ == "__main__":
    main()
