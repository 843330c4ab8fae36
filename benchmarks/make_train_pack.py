"""Make a training pack: HR crop sequences + pre-degraded LR, small enough to travel to a lent GPU.

    python benchmarks/make_train_pack.py STORE PACK_DIR [--mib 40] [--preset camera-mix] [--draws 3]
        [--frames 10] [--hr-size 192] [--seed 0] [--balance kinds|clips] [--crop-candidates 4]

STORE is a frame store (`freqvsr data build-store`). As many sequences as fit in --mib MiB: each is
--frames consecutive frames of one clip cropped to --hr-size² (of 4 random positions, the most
detailed), degraded --draws times by the preset with the project's own `freqvsr.degrade.apply`
(BI x4 + H.264 on the whole crop sequence; needs PyAV for codec presets). Default --balance kinds:
every content kind (camera, animation, text, game) gets the same number of sequences. Writes
PACK_DIR/hr.npy, lr.npy and pack.json (format: src/freqvsr/data/pack.py); train on it with data
kind `pack` and `degradation.preset: disk` (configs/default_online_gpu.yaml). Deterministic for a
seed (pack.json's "seconds" and "command" aside).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time

from freqvsr.data.pack import build_pack, pack_bytes_per_sequence


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("store", help="frame store folder (store.json + frames.u8)")
    ap.add_argument("pack", help="output folder (created; an existing pack there is replaced)")
    ap.add_argument("--mib", type=float, default=40.0, help="size bound of hr.npy + lr.npy in MiB (default 40)")
    ap.add_argument("--preset", default="camera-mix", help="degradation preset (default camera-mix)")
    ap.add_argument("--draws", type=int, default=3, help="LR versions per sequence (default 3)")
    ap.add_argument("--frames", type=int, default=10, help="frames per sequence (default 10)")
    ap.add_argument("--hr-size", type=int, default=192, help="HR crop side (default 192)")
    ap.add_argument("--scale", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--balance",
        choices=("kinds", "clips"),
        default="kinds",
        help="kinds: equal sequences per content kind (default); clips: every clip equally likely",
    )
    ap.add_argument(
        "--crop-candidates",
        type=int,
        default=4,
        help="random crop positions per sequence; the most detailed is kept (1 = uniform)",
    )
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args(argv)
    command = shlex.join(["python", "benchmarks/make_train_pack.py", *(sys.argv[1:] if argv is None else argv)])
    log = (lambda m: None) if a.quiet else (lambda m: print(m, file=sys.stderr, flush=True))
    per = pack_bytes_per_sequence(a.frames, a.hr_size, a.draws, a.scale)
    log(f"{per / 2**20:.3f} MiB per sequence -> {int(a.mib * 2**20) // per} sequences")
    t = time.perf_counter()
    index = build_pack(
        a.store,
        a.pack,
        mib=a.mib,
        preset=a.preset,
        draws=a.draws,
        frames=a.frames,
        hr_size=a.hr_size,
        scale=a.scale,
        seed=a.seed,
        balance=a.balance,
        crop_candidates=a.crop_candidates,
        command=command,
        log=log,
    )
    n = index["hr"]["shape"][0]
    clean = sum(d.get("codec") is None for s in index["sequences"] for d in s["draws"])
    print(
        f"{a.pack}: {n} sequences, {index['bytes'] / 2**20:.1f} MiB, kinds {index['kinds']}, "
        f"{clean}/{n * a.draws} draws without codec, {time.perf_counter() - t:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
