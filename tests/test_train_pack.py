"""Training packs (benchmarks/make_train_pack.py, data kind ``pack``): deterministic builds, HR/LR
pairs equal to the recorded degradation replayed, aligned samples, a pack importable without PyAV,
training through the public API (configs/default_online_gpu.yaml), and ``train.max_seconds``."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from freqvsr.data.frame_access import to_float_tensor
from freqvsr.data.pack import PackDataset, build_pack, open_pack
from freqvsr.data.store import build_store
from freqvsr.degrade import DegradeParams, apply
from freqvsr.errors import OutputError, UsageError
from freqvsr.train.config import load_config
from freqvsr.train.logger import read_log
from freqvsr.train.loop import train

ROOT = Path(__file__).resolve().parents[1]
KINDS = {"camera": 2, "animation": 1, "text": 1}
ARGS = dict(mib=0.05, preset="camera-mix", draws=2, frames=4, hr_size=32, seed=5)


def _store(root: Path) -> Path:
    """A tiny frame store with content kinds: textured 6-frame clips of 40x48 (+ one too small)."""
    from PIL import Image

    rng = np.random.default_rng(0)
    corpus, entries = root / "corpus", []
    for kind, n in KINDS.items():
        for i in range(n):
            name = f"synthetic/{kind}-{i}_000"
            d = corpus / name
            d.mkdir(parents=True)
            base = rng.integers(0, 256, (11, 13, 3), dtype=np.uint8)
            for t in range(6):
                img = np.roll(np.kron(base, np.ones((4, 4, 1), dtype=np.uint8))[:40, :48], t, axis=1)
                Image.fromarray(img).save(d / f"{t:08d}.png")
            entries.append({"name": name, "kind": "synthetic", "content": kind, "frames": 6})
    small = corpus / "synthetic/game-0_000"
    small.mkdir(parents=True)
    for t in range(6):
        Image.fromarray(np.zeros((24, 24, 3), np.uint8)).save(small / f"{t:08d}.png")
    entries.append({"name": "synthetic/game-0_000", "kind": "synthetic", "content": "game", "frames": 6})
    (corpus / "manifest.json").write_text(json.dumps({"clips": entries}))
    build_store(corpus, root / "store")
    return root / "store"


@pytest.fixture(scope="module")
def packs(tmp_path_factory):
    root = tmp_path_factory.mktemp("pack")
    store = _store(root)
    a = build_pack(store, root / "a", **ARGS)
    build_pack(store, root / "b", **ARGS)
    return store, root / "a", root / "b", a


def test_pack_is_deterministic_bounded_and_balanced(packs):
    store, a, b, index = packs
    for name in ("hr.npy", "lr.npy"):
        assert (a / name).read_bytes() == (b / name).read_bytes()
    ja, jb = (json.loads((p / "pack.json").read_text()) for p in (a, b))
    assert ja["sequences"] == jb["sequences"]
    n = index["hr"]["shape"][0]
    per = 4 * 3 * (32 * 32 + 2 * 8 * 8)
    assert n == int(0.05 * 2**20) // per and index["bytes"] == n * per <= 0.05 * 2**20
    assert index["lr"]["shape"] == [n, 2, 4, 8, 8, 3]
    # the 24x24 game clip is too small for 32x32 crops: three kinds take turns
    assert set(index["kinds"]) == {"animation", "camera", "text"}
    assert max(index["kinds"].values()) - min(index["kinds"].values()) <= 1
    # a different seed gives different crops / draws
    other = build_pack(store, a.parent / "c", **{**ARGS, "seed": 6})
    assert other["sequences"] != index["sequences"]


def test_lr_is_the_recorded_degradation_of_the_hr(packs):
    _, a, _, index = packs
    hr, lr = np.load(a / "hr.npy"), np.load(a / "lr.npy")
    codecs = 0
    for q, seq in enumerate(index["sequences"]):
        for d, params in enumerate(seq["draws"]):
            dp = DegradeParams.from_dict(params)
            codecs += dp.codec is not None
            replay = apply(to_float_tensor(hr[q]), dp)
            assert torch.equal(replay, to_float_tensor(lr[q, d])), (q, d)  # bit-exact
    assert codecs > 0  # camera-mix drew H.264 for some


def test_samples_are_aligned_crops_of_the_pack(packs):
    _, a, _, _ = packs
    hr, lr = np.load(a / "hr.npy"), np.load(a / "lr.npy")
    ds = PackDataset(a, num_frames=3, lq_patch=4, repeat=3, seed=1, augment=False)
    assert len(ds) == 3 * hr.shape[0]
    for i in range(len(ds)):
        s = ds[i]
        q, d, t, y, x, flags = s["origin"]
        assert s["lq"].shape == (3, 3, 4, 4) and s["gt"].shape == (3, 3, 16, 16) and not any(flags)
        assert torch.equal(s["lq"], to_float_tensor(lr[q, d, t : t + 3, y : y + 4, x : x + 4]))
        assert torch.equal(s["gt"], to_float_tensor(hr[q, t : t + 3, 4 * y : 4 * y + 16, 4 * x : 4 * x + 16]))
        assert s["params"] == json.loads((a / "pack.json").read_text())["sequences"][q]["draws"][d]
    # augmented samples: LQ and GT get the same flips (downscaling the GT lands near the LQ)
    aug = PackDataset(a, num_frames=3, lq_patch=8, repeat=8, seed=2)
    flipped = 0
    for i in range(len(aug)):
        s = aug[i]
        flipped += any(s["origin"][-1])
        if s["params"]["codec"] is None:
            assert torch.equal(apply(s["gt"], DegradeParams.from_dict(s["params"])), s["lq"])
    assert flipped
    # same (seed, epoch, index) -> same sample, also after pickling (workers)
    clone = pickle.loads(pickle.dumps(aug))
    assert len(pickle.dumps(aug)) < 20_000
    for i in (0, 5):
        assert torch.equal(aug[(3, i)]["lq"], clone[(3, i)]["lq"]) and aug[(3, i)]["key"] == clone[(3, i)]["key"]
    # evaluation windows: whole frames, draw 0
    val = PackDataset(a, num_frames=None, lq_patch=None, augment=False, sampling="windows")
    assert len(val) == hr.shape[0] and val[0]["gt"].shape == (4, 3, 32, 32)


def test_pack_refusals(packs, tmp_path):
    store, a, _, _ = packs
    with pytest.raises(UsageError, match="disk"):
        PackDataset(a, degrade="bi")
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep.txt").write_text("mine")
    with pytest.raises(OutputError, match="not a training pack"):
        build_pack(store, tmp_path / "x", **ARGS)
    assert open_pack(a)["format"] == "freqvsr-train-pack"


def test_pack_dataset_imports_without_pyav():
    code = (
        "import sys; sys.modules['av'] = None\n"  # `import av` now raises ImportError
        "import freqvsr.data.pack, freqvsr.train.loop, freqvsr.models\n"
        "assert 'av' not in sys.modules or sys.modules['av'] is None\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def _gpu_config(pack, out_over=()):
    return load_config(
        ROOT / "configs/default_online_gpu.yaml",
        [
            f"data.root={pack}",
            "data.num_workers=0",
            "data.args.repeat=4",
            "train.iterations=2",
            "train.batch_size=2",
            "train.crop_size=32",
            "train.num_frames=3",
            "train.amp=none",
            "train.device=cpu",
            "train.log_every=1",
            "train.ckpt_every=0",
            "schedule.warmup=0",
            "val.data.args.size=32",
            "val.data.args.length=1",
            "val.data.args.num_frames=2",
            *out_over,
        ],
    )


def test_gpu_recipe_trains_two_iterations_on_a_pack(packs, tmp_path):
    _, a, _, _ = packs
    cfg = _gpu_config(a)
    assert cfg.data.kind == "pack" and cfg.degradation.preset == "disk" and cfg.model.weights
    result = train(cfg, tmp_path / "run", progress=False)
    assert result.iteration == 2 and result.final is not None and result.stopped is None
    assert all(np.isfinite(result.losses)) and result.val is not None


def test_max_seconds_stops_cleanly_with_final_checkpoint(packs, tmp_path):
    _, a, _, _ = packs
    cfg = _gpu_config(a, ["train.iterations=50", "train.max_seconds=1e-6", "model.weights=null"])
    result = train(cfg, tmp_path / "run", progress=False)
    assert result.stopped == "max_seconds" and result.iteration == 1
    assert result.final is not None and result.final.is_file()
    assert (tmp_path / "run" / "training_state.pt").is_file()
    assert read_log(tmp_path / "run" / "metrics.jsonl", kind="stopped")
    with pytest.raises(UsageError, match="max_seconds"):
        _gpu_config(a, ["train.max_seconds=-1"])
