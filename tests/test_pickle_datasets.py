"""Datasets and degradation presets pickle, so DataLoader workers can be spawned instead of forked."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from freqvsr.data import ClipDataset, FolderDataset
from freqvsr.data.clips import folder_clips
from freqvsr.degrade import PRESETS, Preset, apply, get_preset, list_presets
from freqvsr.train.data import WORKER_START_METHOD, BatchStream, SyntheticClips


def _clip(seed: int, t: int = 2, size: int = 32) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    # Smooth content (upsampled noise), as codecs see real frames; values in [0, 1].
    base = torch.rand(t, 3, size // 4, size // 4, generator=g)
    return torch.nn.functional.interpolate(base, size=(size, size), mode="bilinear", align_corners=False).clamp(0, 1)


@pytest.mark.parametrize("name", list_presets())
def test_every_preset_pickles_and_samples_the_same(name):
    preset = get_preset(name)
    clone = pickle.loads(pickle.dumps(preset))
    assert isinstance(clone, Preset) and clone.name == name and clone == preset
    x = _clip(1)
    for seed in (0, 7):
        p_ref = preset.sample(torch.Generator().manual_seed(seed))
        p_new = clone.sample(torch.Generator().manual_seed(seed))
        assert p_new == p_ref and p_new.preset == name
    lq_ref, params_ref = preset(x, torch.Generator().manual_seed(5))
    lq_new, params_new = clone(x, torch.Generator().manual_seed(5))
    assert params_new == params_ref
    assert torch.equal(lq_new, lq_ref)


def test_noise_preset_draws_exactly_one_seed_as_before():
    # The picklable sampler must consume the generator exactly as the old closure did: one 62-bit seed.
    g = torch.Generator().manual_seed(7)
    expected = int(torch.randint(0, 2**62, (), generator=torch.Generator().manual_seed(7)))
    params = get_preset("noise").sample(g)
    assert params.noise.seed == expected and params.noise.sigma == 15.0
    assert torch.equal(g.get_state(), _after_one_seed(7))
    # Fixed presets draw nothing at all.
    g = torch.Generator().manual_seed(7)
    before = g.get_state()
    get_preset("crf25").sample(g)
    assert torch.equal(g.get_state(), before)


def _after_one_seed(seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    torch.randint(0, 2**62, (), generator=g)
    return g.get_state()


def test_presets_are_hashable_and_registry_is_unchanged():
    assert len({hash(p) for p in PRESETS.values()}) == len(PRESETS)  # frozen dataclasses, tuples inside


def _png(path, img):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(path)


def _tree(tmp_path, clips=2, frames=3, h=24, w=32):
    rng = np.random.default_rng(3)
    for c in range(clips):
        for i in range(frames):
            _png(tmp_path / "clips" / f"c{c}" / f"{i:04d}.png", rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    return tmp_path / "clips"


def _same_sample(a: dict, b: dict) -> None:
    assert a["key"] == b["key"] and a["params"] == b["params"]
    assert torch.equal(a["lq"], b["lq"]) and torch.equal(a["gt"], b["gt"])


@pytest.mark.parametrize("degrade", ["noise", "ftvsr-mix"])
def test_folder_dataset_pickles(tmp_path, degrade):
    ds = FolderDataset(_tree(tmp_path), degrade=degrade, num_frames=2, lq_patch=4, repeat=2, seed=11)
    clone = pickle.loads(pickle.dumps(ds))
    for i in range(len(ds)):
        _same_sample(ds[(1, i)], clone[(1, i)])


def test_clip_dataset_with_preset_object_pickles(tmp_path):
    clips = folder_clips(_tree(tmp_path))
    ds = ClipDataset(clips, num_frames=2, lq_patch=4, degrade=get_preset("real"), seed=2)
    clone = pickle.loads(pickle.dumps(ds))
    s, c = ds[0], clone[0]
    _same_sample(s, c)
    assert s["params"]["codec"] is not None  # the codec path ran
    from freqvsr.degrade import DegradeParams

    assert torch.equal(apply(c["gt"], DegradeParams.from_dict(c["params"])), s["lq"])


def test_synthetic_clips_pickle():
    ds = SyntheticClips(length=4, num_frames=2, size=16, preset="noise", seed=5)
    ds.set_epoch(3)
    clone = pickle.loads(pickle.dumps(ds))
    assert clone.epoch == 3
    _same_sample(ds[2], clone[2])


def test_batch_stream_refuses_fork():
    from freqvsr.errors import UsageError

    with pytest.raises(UsageError, match="fork"):
        BatchStream(SyntheticClips(length=4, num_frames=1, size=8), 2, seed=0, num_workers=2, start_method="fork")


def test_batch_stream_spawned_workers_match_in_process():
    # One spawn test only: each worker is a fresh interpreter importing torch (seconds).
    ds = SyntheticClips(length=6, num_frames=2, size=16, preset="noise", seed=4)
    local = BatchStream(ds, 2, seed=9, num_workers=0)
    spawned = BatchStream(ds, 2, seed=9, num_workers=2)
    assert WORKER_START_METHOD == "spawn"
    try:
        # 3 batches per epoch: 5 batches cross an epoch boundary, where the epoch must reach the workers.
        ours = [local.next() for _ in range(5)]
        theirs = [spawned.next() for _ in range(5)]
        workers = spawned._iter._workers  # the loader's worker processes
        assert len(workers) == 2 and all(type(w).__name__ == "SpawnProcess" for w in workers)
    finally:
        spawned.close()
    assert [b["key"] for b in ours][3][0].startswith("synthetic/1/")  # epoch 1 reached
    for a, b in zip(ours, theirs):
        assert a["key"] == b["key"] and a["params"] == b["params"]
        assert torch.equal(a["lq"], b["lq"]) and torch.equal(a["gt"], b["gt"])
    assert (spawned.epoch, spawned.position) == (local.epoch, local.position) == (1, 2)
    assert spawned.state_dict() == local.state_dict()
