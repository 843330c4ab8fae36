"""Frame store (``freqvsr data build-store``): the store-backed dataset gives exactly FolderDataset's
samples, builds are refused onto foreign folders, damaged stores fail in one line, pickling is cheap."""

from __future__ import annotations

import argparse
import json
import pickle

import numpy as np
import pytest
import torch
from PIL import Image

from freqvsr.data import FolderDataset
from freqvsr.data import store as store_mod
from freqvsr.data.store import StoreDataset, StoreFrames, build_store, open_store, store_clips, verify_store
from freqvsr.errors import InputError, OutputError
from freqvsr.train.data import BatchStream


def _corpus(root):
    """Clips of several sizes and lengths, textured so that crop_candidates has a choice to make;
    one too small for the patch and one too short for the window (both left out by both datasets)."""
    rng = np.random.default_rng(0)
    spec = {
        "real/vtest_000": (7, 40, 52),
        "real/vtest_001": (6, 40, 52),
        "synthetic/altai_000": (8, 48, 36),
        "synthetic/tiny_000": (6, 20, 20),
        "synthetic/short_000": (3, 48, 48),
    }
    for name, (n, h, w) in spec.items():
        d = root / name
        d.mkdir(parents=True)
        base = rng.integers(0, 256, (h // 4 + 1, w // 4 + 1, 3), dtype=np.uint8)
        for i in range(n):
            img = np.kron(base, np.ones((4, 4, 1), dtype=np.uint8))[:h, :w]
            img = np.roll(img, i, axis=1) ^ rng.integers(0, 32, (h, w, 3), dtype=np.uint8)
            Image.fromarray(img).save(d / f"{i:08d}.png")
    (root / "manifest.json").write_text(
        json.dumps(
            {
                "clips": [
                    {"name": k, "kind": k.split("/")[0], "content": "camera", "frames": v[0]} for k, v in spec.items()
                ]
            }
        )
    )
    return root


@pytest.fixture()
def built(tmp_path):
    corpus = _corpus(tmp_path / "corpus")
    store = tmp_path / "store"
    index = build_store(corpus, store)
    return corpus, store, index


def _same(a, b):
    assert a["key"] == b["key"] and a["params"] == b["params"]
    assert torch.equal(a["lq"], b["lq"]) and torch.equal(a["gt"], b["gt"])


def test_store_gives_folder_datasets_samples(built):
    corpus, store, index = built
    assert [c["key"] for c in index["clips"]] == sorted(c["key"] for c in index["clips"])
    assert index["clips"][0]["manifest"]["content"] == "camera" and store_mod.frames_per_content(index) == {
        "camera": 30
    }
    # Training: random windows, detail-biased crops, augmentation, the FTVSR mix (codec included).
    args = dict(num_frames=5, lq_patch=6, crop_candidates=4, degrade="ftvsr-mix", repeat=4, seed=3)
    old, new = FolderDataset(corpus, **args), StoreDataset(store, **args)
    assert (
        [c.key for c in new.clips]
        == [c.key for c in old.clips]
        == ["real/vtest_000", "real/vtest_001", "synthetic/altai_000"]
    )
    assert len(new) == len(old) == 12
    codec_ran = False
    for i in range(len(old)):
        a, b = old[(2, i)], new[(2, i)]
        _same(a, b)
        codec_ran |= a["params"]["codec"] is not None
    assert codec_ran
    # Evaluation: whole frames, windows in order, no augmentation.
    args = dict(num_frames=5, lq_patch=None, augment=False, sampling="windows", stride=3, degrade="bi")
    old, new = FolderDataset(corpus, **args), StoreDataset(store, **args)
    assert len(new) == len(old)
    for i in range(len(old)):
        _same(old[i], new[i])


def test_store_frames_read_like_image_frames(built):
    corpus, store, _ = built
    clip = store_clips(store)[2]
    assert clip.key == "synthetic/altai_000" and clip.gt.frame_size() == (36, 48) and len(clip) == 8
    frames = clip.gt.read(2, 3)
    assert frames.shape == (3, 48, 36, 3) and frames.dtype == np.uint8 and frames.flags.writeable
    assert np.array_equal(frames[1], np.asarray(Image.open(corpus / "synthetic/altai_000/00000003.png")))
    with pytest.raises(InputError, match="out of range"):
        clip.gt.read(6, 3)


def test_build_refuses_a_foreign_folder_and_replaces_a_store(tmp_path, built):
    corpus, store, _ = built
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "holiday.jpg").write_bytes(b"not mine to delete")
    with pytest.raises(OutputError, match="not a frame store"):
        build_store(corpus, foreign)
    assert sorted(p.name for p in foreign.iterdir()) == ["holiday.jpg"]
    with pytest.raises(OutputError, match="source"):
        build_store(corpus, corpus)
    again = build_store(corpus, store)  # an existing store is rebuilt in place
    assert again["bytes"] == (store / "frames.u8").stat().st_size
    assert sorted(p.name for p in store.iterdir()) == ["frames.u8", "store.json"]


def test_damaged_store_fails_in_one_line_naming_the_file(tmp_path, built):
    _, store, index = built
    data = store / "frames.u8"
    blob = data.read_bytes()
    data.write_bytes(blob[:-100])  # short
    with pytest.raises(InputError) as err:
        StoreDataset(store, num_frames=5, lq_patch=4)
    msg = str(err.value)
    assert str(data) in msg and "truncated" in msg and "\n" not in msg
    data.write_bytes(blob[:5000] + bytes([blob[5000] ^ 0xFF]) + blob[5001:])  # right size, flipped byte
    with pytest.raises(InputError, match=r"frames\.u8: clip real/vtest_000 fails its CRC-32"):
        verify_store(store)
    data.write_bytes(blob)
    assert verify_store(store) == len(index["clips"])
    (store / "store.json").write_text('{"format": "freqvsr-frame-st')
    with pytest.raises(InputError, match=r"store\.json: not a frame store index"):
        open_store(store)
    with pytest.raises(InputError, match=r"store\.json: not found"):
        open_store(tmp_path)


def test_store_dataset_pickles_small_and_reopens_lazily(built):
    _, store, _ = built
    ds = StoreDataset(store, num_frames=5, lq_patch=4, degrade="noise", seed=1)
    ref = ds[0]  # the memory map is now open in this process
    blob = pickle.dumps(ds)
    assert len(blob) < 4096  # paths and integers: no frames, no memory map
    store_mod._maps.clear()  # as in a fresh (spawned) worker
    clone = pickle.loads(blob)
    assert isinstance(clone.clips[0].gt, StoreFrames)
    _same(ref, clone[0])
    assert store_mod._maps  # reopened on first read


def test_store_batches_from_a_spawned_worker_match_in_process(built):
    _, store, _ = built
    ds = StoreDataset(store, num_frames=5, lq_patch=4, degrade="bi", seed=2, repeat=2)
    local = BatchStream(ds, 2, seed=5, num_workers=0)
    spawned = BatchStream(ds, 2, seed=5, num_workers=1)
    try:
        theirs = [spawned.next() for _ in range(2)]
    finally:
        spawned.close()
    for a in theirs:
        b = local.next()
        assert a["key"] == b["key"] and torch.equal(a["lq"], b["lq"]) and torch.equal(a["gt"], b["gt"])


def test_cli_build_store_and_train_data_kind(tmp_path, built):
    from freqvsr.cli import data as cli_data
    from freqvsr.train.config import config_from_dict
    from freqvsr.train.data import build_dataset

    corpus, _, _ = built
    parser = argparse.ArgumentParser(prog="freqvsr")
    common = argparse.ArgumentParser(add_help=False)
    cli_data.add_parser(parser.add_subparsers(dest="command"), common)
    out = tmp_path / "cli-store"
    args = parser.parse_args(["data", "build-store", str(corpus), str(out), "--verify", "--quiet"])
    assert args.func(args) == 0 and (out / "store.json").is_file()

    raw = {
        "name": "t",
        "model": {"name": "basicvsr.tiny"},
        "degradation": {"preset": "bi"},
        "train": {"crop_size": 16, "num_frames": 5, "batch_size": 2, "iterations": 1},
        "data": {"kind": "store", "root": str(out), "args": {"crop_candidates": 4, "repeat": 2}},
    }
    cfg = config_from_dict(raw)
    ds = build_dataset(cfg.data, cfg, split="train")
    assert (
        isinstance(ds, StoreDataset) and ds.crop_candidates == 4 and len(ds) == 8
    )  # 4 clips (the short one is out) x repeat 2
    folder = build_dataset(
        config_from_dict({**raw, "data": {**raw["data"], "kind": "folder", "root": str(corpus)}}).data,
        cfg,
        split="train",
    )
    _same(ds[0], folder[0])
    assert ds[0]["gt"].shape == (5, 3, 16, 16)
