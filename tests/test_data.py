"""Clip datasets: layouts (REDS, Vimeo-90K, Vid4, folders), paired crops and augmentation,
on-the-fly degradation that replays, determinism across DataLoader workers, video seeking."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from clips import make_video
from PIL import Image

from freqvsr.data import (
    Augment,
    ClipDataset,
    FolderDataset,
    REDSDataset,
    SeededSampler,
    Vid4Dataset,
    VideoFrames,
    Vimeo90KDataset,
    collate_clips,
    folder_clips,
    reds_clips,
)
from freqvsr.degrade import DegradeParams, apply
from freqvsr.errors import InputError, UsageError


def _png(path, img: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(path)


def _lq_gt_pair(rng: np.random.Generator, h: int, w: int, scale: int = 4):
    """Random LQ and its nearest-neighbour x4 GT: GT == LQ repeated, under any flip/transpose/crop
    that keeps LQ and GT aligned -- so the test can check pairing exactly."""
    lq = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    return lq, lq.repeat(scale, 0).repeat(scale, 1)


def _reds(tmp_path, names=("000", "001", "002", "011", "015", "020"), frames=6, h=6, w=8):
    rng = np.random.default_rng(0)
    for n in names:
        for i in range(frames):
            lq, gt = _lq_gt_pair(rng, h, w)
            _png(tmp_path / "train_sharp" / n / f"{i:08d}.png", gt)
            _png(tmp_path / "train_sharp_bicubic" / "X4" / n / f"{i:08d}.png", lq)
    return tmp_path


def _upsampled(lq: torch.Tensor) -> torch.Tensor:
    return lq.repeat_interleave(4, -1).repeat_interleave(4, -2)


def test_reds_splits_and_paired_crops(tmp_path):
    root = _reds(tmp_path)
    assert [c.key for c in reds_clips(root, "train")] == ["001", "002"]
    assert [c.key for c in reds_clips(root, "reds4")] == ["000", "011", "015", "020"]
    ds = REDSDataset(root, "train", num_frames=3, lq_patch=4, repeat=8, seed=1)
    assert len(ds) == 16
    flips = set()
    for i in range(len(ds)):
        s = ds[i]
        assert s["lq"].shape == (3, 3, 4, 4) and s["gt"].shape == (3, 3, 16, 16)
        assert s["lq"].dtype == torch.float32 and 0 <= s["lq"].min() and s["lq"].max() <= 1
        assert s["params"] is None and s["key"].split("/")[0] in ("001", "002")
        # Paired crop + identical augmentation: GT is exactly LQ's x4 replication.
        assert torch.equal(s["gt"], _upsampled(s["lq"]))
        flips.add(s["key"])
    assert len(flips) > 3  # random windows actually vary
    with pytest.raises(UsageError, match="split"):
        reds_clips(root, "val")


def test_reds4_missing_clip_is_an_input_error(tmp_path):
    root = _reds(tmp_path, names=("000", "001"))
    with pytest.raises(InputError, match="011"):
        reds_clips(root, "reds4")


def test_augmentation_is_applied_and_deterministic(tmp_path):
    root = _reds(tmp_path, names=("001",), frames=4)
    plain = ClipDataset(
        reds_clips(root, "train", lq=True), num_frames=4, lq_patch=None, augment=False, sampling="windows"
    )
    base = plain[0]["lq"]
    ds = ClipDataset(
        reds_clips(root, "train", lq=True),
        num_frames=4,
        lq_patch=None,
        augment=True,
        sampling="random",
        repeat=32,
        seed=3,
    )
    seen = set()
    for i in range(len(ds)):
        x = ds[i]["lq"]
        for name, f in {
            "id": lambda t: t,
            "h": lambda t: t.flip(-1),
            "v": lambda t: t.flip(-2),
            "hv": lambda t: t.flip(-1).flip(-2),
        }.items():
            for rev in (False, True):
                y = f(base)
                if torch.equal(x, y.flip(0) if rev else y):
                    seen.add((name, rev))
    # Non-square frames: no transpose; all four flip combinations and both time directions occur.
    assert len(seen) == 8
    again = ClipDataset(
        reds_clips(root, "train", lq=True),
        num_frames=4,
        lq_patch=None,
        augment=True,
        sampling="random",
        repeat=32,
        seed=3,
    )
    assert all(torch.equal(ds[i]["lq"], again[i]["lq"]) for i in (0, 5, 17))


def test_epochs_seeds_and_tuple_indices(tmp_path):
    root = _reds(tmp_path, names=("001",), frames=6, h=12, w=12)
    ds = REDSDataset(root, "train", num_frames=2, lq_patch=4, repeat=4, seed=5)
    a = [ds[i]["lq"] for i in range(4)]
    ds.set_epoch(1)
    b = [ds[i]["lq"] for i in range(4)]
    assert not all(torch.equal(x, y) for x, y in zip(a, b))
    assert all(torch.equal(ds[(0, i)]["lq"], a[i]) for i in range(4))
    other = REDSDataset(root, "train", num_frames=2, lq_patch=4, repeat=4, seed=6)
    assert not all(torch.equal(other[i]["lq"], a[i]) for i in range(4))
    order = list(SeededSampler(4, seed=0, epoch=2))
    assert sorted(i for _, i in order) == [0, 1, 2, 3] and all(e == 2 for e, _ in order)


def _frame_folder_tree(tmp_path, clips=2, frames=5, h=24, w=32):
    rng = np.random.default_rng(1)
    for c in range(clips):
        for i in range(frames):
            _png(tmp_path / "clips" / f"c{c}" / f"{i:04d}.png", rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    return tmp_path / "clips"


def test_on_the_fly_degradation_replays_from_params(tmp_path):
    root = _frame_folder_tree(tmp_path)
    ds = FolderDataset(root, degrade="real", num_frames=3, lq_patch=4, repeat=2, seed=7)
    s = ds[1]
    assert s["lq"].shape == (3, 3, 4, 4) and s["gt"].shape == (3, 3, 16, 16)
    params = DegradeParams.from_dict(s["params"])
    assert params.preset == "real" and params.codec is not None and params.noise is not None
    assert torch.equal(apply(s["gt"], params), s["lq"])  # bit-exact replay
    assert torch.equal(ds[1]["lq"], s["lq"])
    # The degradation stream is separate from the augmentation stream.
    no_aug = FolderDataset(root, degrade="real", num_frames=3, lq_patch=4, repeat=2, seed=7, augment=False)
    assert no_aug[1]["params"] == s["params"]


@pytest.mark.spawns
def test_dataloader_workers_give_the_same_samples(tmp_path):
    # Run in a fresh interpreter: forking DataLoader workers out of the long pytest process (which
    # has started threads: PyAV, encoders, torch) deadlocked once in CI; a clean process forks safely.
    root = _frame_folder_tree(tmp_path, clips=3)
    code = f"""
import torch
from torch.utils.data import DataLoader
from freqvsr.data import FolderDataset, SeededSampler, collate_clips, worker_init_fn
ds = FolderDataset({str(root)!r}, degrade="noise", num_frames=2, lq_patch=4, repeat=2, seed=11)
def run(workers):
    dl = DataLoader(ds, batch_size=2, num_workers=workers, collate_fn=collate_clips, timeout=120 if workers else 0,
                    worker_init_fn=worker_init_fn if workers else None, sampler=SeededSampler(len(ds), seed=2))
    return list(dl)
b0, b2 = run(0), run(2)
assert len(b0) == 3
for x, y in zip(b0, b2):
    assert x["key"] == y["key"] and x["params"] == y["params"]
    assert torch.equal(x["lq"], y["lq"]) and torch.equal(x["gt"], y["gt"])
print("same")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "same", out.stderr[-2000:]


def test_collate_keeps_none_params_and_rejects_mixed_sizes():
    s = {"lq": torch.zeros(2, 3, 4, 4), "gt": torch.zeros(2, 3, 16, 16), "key": "a/00000000", "params": None}
    b = collate_clips([s, s])
    assert b["lq"].shape == (2, 2, 3, 4, 4) and b["params"] == [None, None]
    t = dict(s, lq=torch.zeros(2, 3, 5, 4))
    with pytest.raises(UsageError, match="different sizes"):
        collate_clips([s, t])


def test_vimeo90k_layout(tmp_path):
    rng = np.random.default_rng(2)
    for name in ("00001/0001", "00001/0002", "00002/0001"):
        for i in range(1, 8):
            lq, gt = _lq_gt_pair(rng, 4, 6)
            _png(tmp_path / "sequences" / name / f"im{i}.png", gt)
            _png(tmp_path / "lq" / name / f"im{i}.png", lq)
    (tmp_path / "sep_trainlist.txt").write_text("00001/0001\n00002/0001\n")
    (tmp_path / "sep_testlist.txt").write_text("00001/0002\n\n")
    train = Vimeo90KDataset(tmp_path, "train", lq_dir="lq", lq_patch=4)
    assert len(train) == 2
    s = train[0]
    assert s["lq"].shape == (7, 3, 4, 4) and torch.equal(s["gt"], _upsampled(s["lq"]))
    test = Vimeo90KDataset(tmp_path, "test", degrade="bd", lq_patch=None, augment=False, sampling="windows")
    s = test[0]
    assert s["key"] == "00001/0002/00000000" and s["lq"].shape == (7, 3, 4, 6) and s["params"]["downsample"] == "bd"
    with pytest.raises(UsageError, match="lq_dir"):
        Vimeo90KDataset(tmp_path, "train")
    (tmp_path / "sep_testlist.txt").write_text("00009/0001\n")
    with pytest.raises(InputError, match="00009"):
        Vimeo90KDataset(tmp_path, "test", degrade="bi")


def test_vid4_layout_whole_clips(tmp_path):
    rng = np.random.default_rng(3)
    for clip, n in (("calendar", 4), ("city", 3)):
        for i in range(n):
            lq, gt = _lq_gt_pair(rng, 5, 7)
            _png(tmp_path / "GT" / clip / f"{i:08d}.png", gt)
            _png(tmp_path / "BIx4" / clip / f"{i:08d}.png", lq)
    ds = Vid4Dataset(tmp_path)
    assert len(ds) == 2
    s = ds[0]
    assert s["key"] == "calendar/00000000" and s["lq"].shape == (4, 3, 5, 7) and s["gt"].shape == (4, 3, 20, 28)
    assert torch.equal(s["gt"], _upsampled(s["lq"]))
    assert ds[1]["lq"].shape[0] == 3
    with pytest.raises(InputError, match="BDx4"):
        Vid4Dataset(tmp_path, "BDx4")


def test_windows_cover_the_clip_and_end_aligned(tmp_path):
    root = _frame_folder_tree(tmp_path, clips=1, frames=7)
    ds = FolderDataset(root, degrade="bi", num_frames=3, lq_patch=None, augment=False, sampling="windows")
    assert [s["key"] for s in ds] == ["c0/00000000", "c0/00000003", "c0/00000004"]
    assert ds[0]["lq"].shape == (3, 3, 6, 8)
    with pytest.raises(InputError, match="fewer than"):
        ClipDataset(folder_clips(root), num_frames=9, lq_patch=None, degrade="bi")
    with pytest.raises(UsageError, match="no LQ"):
        ClipDataset(folder_clips(root), num_frames=3, lq_patch=None)
    with pytest.raises(InputError, match="skip_small"):
        ClipDataset(folder_clips(root), num_frames=3, lq_patch=16, degrade="bi")
    with pytest.raises(InputError, match="every clip is smaller"):
        FolderDataset(root, degrade="bi", num_frames=3, lq_patch=16)  # skips small clips by default


def test_folder_dataset_skips_clips_too_small_for_the_patch(tmp_path):
    root = _frame_folder_tree(tmp_path, clips=1, frames=3)  # 24x32
    rng = np.random.default_rng(4)
    for i in range(3):
        _png(root / "big" / f"{i}.png", rng.integers(0, 256, (40, 40, 3), dtype=np.uint8))
    ds = FolderDataset(root, degrade="bi", num_frames=2, lq_patch=8)
    assert [c.key for c in ds.clips] == ["big"] and ds[0]["gt"].shape == (2, 3, 32, 32)


def test_video_frames_seek_matches_sequential_decode(tmp_path):
    path = make_video(tmp_path / "v.mp4", frames=24, size=(32, 24), options={"g": "5", "bf": "2"})
    cached = VideoFrames(path)  # small: decoded once and cached
    seeking = VideoFrames(path, cache_bytes=0)  # forced to seek to the key frame before the window
    assert len(cached) == len(seeking) == 24 and seeking.pts is not None  # seekable: timestamps increase
    full = cached.read(0, 24)
    for start in (0, 7, 13, 21):
        assert np.array_equal(seeking.read(start, 3), full[start : start + 3])
    ds = FolderDataset(tmp_path, degrade="bi", num_frames=4, lq_patch=None, augment=False, sampling="windows")
    assert ds[0]["key"] == "v.mp4/00000000" and ds[0]["gt"].shape == (4, 3, 24, 32) and len(ds) == 6
    with pytest.raises(InputError, match="out of range"):
        seeking.read(22, 3)


def test_augment_coerce():
    assert Augment.coerce(False) == Augment(False, False, False, False)
    assert Augment.coerce(True) == Augment()


def test_crop_candidates_prefer_detail_and_stay_deterministic(tmp_path):
    # Left half flat grey, right half noise: with 8 candidates the crop lands on texture far more
    # often than uniform crops do; crop_candidates=1 keeps the uniform sampler's exact samples.
    rng = np.random.default_rng(3)
    for i in range(3):
        img = np.full((32, 64, 3), 128, np.uint8)
        img[:, 32:] = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
        _png(tmp_path / "c" / "c0" / f"{i:04d}.png", img)
    root = tmp_path / "c"

    def detail(ds):
        return np.mean(
            [
                float((ds[(0, i)]["gt"][1, :, :, 1:] - ds[(0, i)]["gt"][1, :, :, :-1]).abs().mean())
                for i in range(len(ds))
            ]
        )

    kw = dict(degrade="bi", num_frames=3, lq_patch=4, repeat=24, seed=5, augment=False)
    uniform, picky = FolderDataset(root, **kw), FolderDataset(root, crop_candidates=8, **kw)
    assert detail(picky) > 1.5 * detail(uniform)
    assert torch.equal(picky[(0, 3)]["gt"], picky[(0, 3)]["gt"])
    # one candidate draws exactly what the uniform sampler drew
    assert torch.equal(FolderDataset(root, crop_candidates=1, **kw)[(0, 5)]["gt"], uniform[(0, 5)]["gt"])
    with pytest.raises(UsageError, match="crop_candidates"):
        FolderDataset(root, crop_candidates=0, **kw)
