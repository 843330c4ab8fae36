"""The small measurements behind implementation choices that the code's comments give as reasons.

Usage:
    python benchmarks/design_timings.py                 # every measurement
    python benchmarks/design_timings.py resize winograd # some of them
    python benchmarks/design_timings.py --list

Each measurement prints one line per alternative (median of ``--repeat`` runs, one thread unless
the measurement is about threads). The table of recorded results, with the module each one
justifies, is ``docs/measurements.md``; rerun this script to refresh it. Numbers depend on the
machine and its load: compare the alternatives of one run, not runs with each other.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

MEASUREMENTS: dict[str, Callable[[int], None]] = {}


def measurement(fn: Callable[[int], None]) -> Callable[[int], None]:
    MEASUREMENTS[fn.__name__.replace("_", "-")] = fn
    return fn


def timed(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm-up: caches, oneDNN primitives
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def show(name: str, seconds: float, note: str = "") -> None:
    print(f"  {name:44s} {seconds * 1e3:10.2f} ms  {note}")


@measurement
def resize(repeat: int) -> None:
    """functional/resize.py: MATLAB bicubic as dense (out, in) matrices applied with matmul."""
    from freqvsr.functional.resize import imresize

    torch.set_num_threads(1)
    up = torch.rand(1, 3, 540, 960)
    down = torch.rand(1, 3, 1080, 1920)
    show("540p x4 (imresize, matmul)", timed(lambda: imresize(up, 4), repeat))
    show("1080p /4 (imresize, matmul, antialiased)", timed(lambda: imresize(down, 0.25), repeat))


@measurement
def ssim_filter(repeat: int) -> None:
    """metrics/psnr_ssim.py: SSIM's 11x11 Gaussian as in-place shifted multiply-adds vs float64 conv2d."""
    from freqvsr.metrics.psnr_ssim import _filter_valid, _gaussian_1d

    torch.set_num_threads(1)
    maps = torch.rand(15, 1, 1080, 1920, dtype=torch.float64)  # 5 maps x 3 channels of an RGB frame
    g = _gaussian_1d().to(torch.float64)

    def conv() -> torch.Tensor:
        rows = F.conv2d(maps, g.view(1, 1, 1, -1))
        return F.conv2d(rows, g.view(1, 1, -1, 1))

    show("shifted multiply-adds (ours)", timed(lambda: _filter_valid(maps, g), repeat))
    show("float64 conv2d, two 1-D passes", timed(conv, repeat))
    print(f"  max |difference| = {(_filter_valid(maps, g) - conv()).abs().max().item():.1e}")


@measurement
def metric_threads(repeat: int) -> None:
    """bench/evaluate.py: per-frame metrics on one thread vs two."""
    from freqvsr.metrics import ssim

    pred, gt = torch.rand(1, 3, 144, 176, dtype=torch.float64), torch.rand(1, 3, 144, 176, dtype=torch.float64)
    for threads in (1, 2):
        torch.set_num_threads(threads)
        show(f"SSIM of a 176x144 RGB frame, {threads} thread(s)", timed(lambda: ssim(pred, gt), repeat))
    torch.set_num_threads(1)


@measurement
def separable_blur(repeat: int) -> None:
    """functional/filters.py: rank-one kernels (Gaussian, box, BD) as two 1-D passes."""
    from freqvsr.functional.filters import filter2d, gaussian_kernel

    torch.set_num_threads(1)
    x = torch.rand(16, 3, 256, 256)
    k = gaussian_kernel(21, 3.0)
    flat = F.pad(x.reshape(-1, 1, 256, 256), (10, 10, 10, 10), mode="reflect")
    show("21x21 Gaussian, 16 crops 256x256, separable", timed(lambda: filter2d(x, k), repeat))
    show("same, one 2-D conv2d", timed(lambda: F.conv2d(flat, k[None, None]), repeat))


@measurement
def winograd(repeat: int) -> None:
    """layers/winograd.py: Winograd F(2,3) / F(4,3) vs oneDNN's direct 3x3 convolution, one core."""
    from freqvsr.layers.winograd import winograd_conv3x3, winograd_weight

    torch.set_num_threads(1)
    for channels in (512, 64):
        x = torch.rand(1, channels, 32, 32).contiguous(memory_format=torch.channels_last)
        w, b = torch.randn(channels, channels, 3, 3) * 0.05, torch.zeros(channels)
        direct = timed(lambda x=x, w=w, b=b: F.conv2d(x, w, b, padding=1), repeat)
        show(f"{channels} channels 32x32: direct conv2d", direct)
        for tile in (2, 4):
            prep = winograd_weight(w, tile)
            t = timed(lambda x=x, prep=prep, b=b: winograd_conv3x3(x, prep, b), repeat)
            show(f"{channels} channels 32x32: Winograd F({tile},3)", t, f"{direct / t:.2f}x")


@measurement
def swscale(repeat: int) -> None:
    """io/_colour.py: swscale flags for YUV -> RGB (error against the exact BT.709 formula, speed)."""
    import av
    import numpy as np
    from av.video.reformatter import Colorspace, Interpolation

    flags = {
        "BICUBIC|ACCURATE_RND|FULL_CHR_H_INT (ours)": Interpolation.BICUBIC
        | Interpolation.ACCURATE_RND
        | Interpolation.FULL_CHR_H_INT,
        "BILINEAR|ACCURATE_RND|FULL_CHR_H_INT": Interpolation.BILINEAR
        | Interpolation.ACCURATE_RND
        | Interpolation.FULL_CHR_H_INT,
        "swscale default (BILINEAR)": Interpolation.BILINEAR,
    }
    rng = np.random.default_rng(0)
    colours = rng.integers(16, 236, size=(20, 3))  # flat limited-range Y, Cb, Cr
    kr, kb = 0.2126, 0.0722
    big = av.VideoFrame.from_ndarray(rng.integers(16, 236, size=(1620, 1920), dtype=np.uint8), format="yuv420p")
    for name, interp in flags.items():
        worst = 0.0
        for y, cb, cr in colours:
            planes = np.concatenate([np.full((64, 64), y), np.full((16, 64), cb), np.full((16, 64), cr)])
            planes = planes.astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(planes, format="yuv420p")
            rgb = frame.to_ndarray(
                format="rgb24",
                src_colorspace=Colorspace.ITU709,
                dst_colorspace=Colorspace.ITU709,
                src_color_range=1,
                dst_color_range=2,
                interpolation=interp,
            )[32, 32].astype(float)
            yy, pb, pr = (y - 16) / 219, (cb - 128) / 224, (cr - 128) / 224
            r = yy + 2 * (1 - kr) * pr
            b = yy + 2 * (1 - kb) * pb
            g = (yy - kr * r - kb * b) / (1 - kr - kb)
            exact = np.clip(np.array([r, g, b]) * 255, 0, 255)
            worst = max(worst, float(np.abs(rgb - exact).max()))
        t = timed(
            lambda interp=interp: big.to_ndarray(
                format="rgb24",
                src_colorspace=Colorspace.ITU709,
                dst_colorspace=Colorspace.ITU709,
                src_color_range=1,
                dst_color_range=2,
                interpolation=interp,
            ),
            repeat,
        )
        show(f"1080p yuv420p -> rgb24, {name}", t, f"max error {worst:.2f} code values")


@measurement
def meta_factory(repeat: int) -> None:
    """models/_zoo.py: the first factory call (torch.arange) on the meta device, in a fresh process."""
    code = "import time, torch; t = time.perf_counter(); torch.arange(8, device='meta'); print(time.perf_counter() - t)"
    runs = [
        float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
        for _ in range(max(1, repeat))
    ]
    show("first torch.arange on 'meta' (fresh process)", statistics.median(runs))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help="measurements to run (default: all)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--list", action="store_true", help="list the measurements and exit")
    args = ap.parse_args(argv)
    if args.list:
        for name, fn in MEASUREMENTS.items():
            print(f"{name:16s} {fn.__doc__.splitlines()[0]}")
        return 0
    unknown = [n for n in args.names if n not in MEASUREMENTS]
    if unknown:
        ap.error(f"unknown measurement(s) {unknown}; valid: {', '.join(MEASUREMENTS)}")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads available")
    for name in args.names or list(MEASUREMENTS):
        print(f"{name}: {MEASUREMENTS[name].__doc__.splitlines()[0]}")
        MEASUREMENTS[name](args.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
