"""How much memory each output encoder holds while writing large frames.

Each codec runs in a fresh process (peak RSS is per process): it encodes ``--frames`` synthetic
RGB frames of ``--size`` through :class:`freqvsr.io.SegmentWriter` (the job's own writer: RGB->YUV
conversion, the job's encoder options, FFmpeg's automatic frame threads) and reports the growth of
peak RSS over the process's RSS before the writer opened, in bytes and in pictures of the output
pixel format. These counts are what ``freqvsr.io.encode.ENCODER_PICTURES`` holds and what the
memory planner reserves for the encoder.

    python benchmarks/encoder_memory.py --size 3840x2160 --frames 20
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

_CODECS = {
    "libx264": ".mp4",
    "libx265": ".mp4",
    "libvpx-vp9": ".webm",
    "libsvtav1": ".mp4",
    "ffv1": ".mkv",
    "prores_ks": ".mov",
}

_CHILD = r"""
import json, os, sys, tempfile, time
from pathlib import Path
import numpy as np
from freqvsr.io import EncodeSettings, SegmentWriter
from freqvsr.io.encode import picture_bytes

codec, ext, w, h, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])

def status(key):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key):
                return int(line.split()[1]) * 1024

rng = np.random.default_rng(0)
# textured frames that move: an encoder that sees a static or flat picture buffers less
base = np.clip(rng.normal(128, 40, (h // 8, w // 8, 3)), 0, 255).astype(np.uint8)
img = np.repeat(np.repeat(base, 8, 0), 8, 1)
frames = [img, np.roll(img, 8, axis=1)]
before = status("VmRSS")
with tempfile.TemporaryDirectory() as tmp:
    out = Path(tmp) / ("enc" + ext)
    settings = EncodeSettings(codec=codec).resolve(out, None)
    t = time.perf_counter()
    with SegmentWriter(out, settings, w, h, None) as writer:
        for i in range(n):
            writer.write(frames[i % 2])
    seconds = time.perf_counter() - t
growth = status("VmHWM") - before
pic = picture_bytes(settings.pix_fmt, w, h)
print(json.dumps({"codec": codec, "pix_fmt": settings.pix_fmt, "growth_mib": growth / 2**20,
                  "pictures": growth / pic, "fps": n / seconds, "cpus": os.cpu_count()}))
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", default="3840x2160", help="WIDTHxHEIGHT of the encoded frames (default 3840x2160)")
    ap.add_argument("--frames", type=int, default=20, help="frames per codec (default 20)")
    ap.add_argument("--codecs", default=",".join(_CODECS), help="comma-separated encoders (default: all)")
    args = ap.parse_args(argv)
    w, h = (int(v) for v in args.size.lower().split("x"))
    print(f"{'codec':<12} {'pix_fmt':<10} {'peak growth':>12} {'pictures':>9} {'fps':>7}")
    for codec in args.codecs.split(","):
        out = subprocess.run(
            [sys.executable, "-c", _CHILD, codec, _CODECS[codec], str(w), str(h), str(args.frames)],
            capture_output=True,
            text=True,
        )
        if out.returncode != 0:
            print(f"{codec:<12} failed: {out.stderr.strip().splitlines()[-1:]}")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{codec:<12} {r['pix_fmt']:<10} {r['growth_mib']:>8.0f} MiB {r['pictures']:>9.1f} {r['fps']:>7.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
