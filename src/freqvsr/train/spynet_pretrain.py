"""SPyNet pretraining on synthetic pairs with exact ground-truth flow (no weights can be downloaded).

Pairs come from :func:`freqvsr.train.procedural.flow_pair`: a procedural texture and a smooth
flow (translation + rotation + zoom + a smooth local field) with ``flow_warp(supp, flow) == ref``
by construction. The loss is the end-point error (EPE), the mean Euclidean distance between the
predicted and true flow vectors, in pixels.

Coarse-to-fine, as in the SPyNet paper (Ranjan & Black, CVPR 2017, §3): level ``k`` of the
pyramid is trained on its own for ``level_iterations[k]`` steps with levels ``< k`` fixed, its EPE
measured at its own resolution against the ground truth average-pooled to that size (and scaled:
one pixel there is ``2**(5-k)`` full-resolution pixels). A final stage fine-tunes all levels
together on the full-resolution EPE.

Result: ``OUT/spynet.safetensors`` (SPyNet state dict, mmediting key layout; load it into a VSR
model with ``model.flow_weights`` in a recipe) and ``OUT/metrics.jsonl``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from freqvsr.data.seeding import mix_seed
from freqvsr.errors import UsageError
from freqvsr.functional.flow import flow_warp
from freqvsr.layers.spynet import SPyNet
from freqvsr.train.config import apply_override, from_dict
from freqvsr.train.logger import Logger
from freqvsr.train.procedural import flow_pair, layered_flow_pair


@dataclass(frozen=True)
class SpyNetTrainConfig:
    size: int = 64  # pair side, a multiple of 32 (SPyNet's coarsest level is size/32)
    max_shift: float = 6.0  # translation range (pixels at full resolution)
    max_rotation_deg: float = 3.0
    max_zoom: float = 0.03
    local: float = 1.0  # amplitude of the smooth non-rigid field (pixels)
    layers: int = 1  # > 1: independently moving textured blobs over the background
    batch_size: int = 8
    lr: float = 1e-4
    level_iterations: tuple[int, ...] = (100, 100, 100, 100, 100, 100)
    finetune_iterations: int = 200
    seed: int = 0
    val_pairs: int = 32
    log_every: int = 20
    corpus: str | None = None  # a `build-corpus` folder: pairs from its synthetic clips
    # (frames + flow.npy + flow_valid.npy) instead of procedural ones
    real_clips: tuple[str, ...] = ()  # videos/frame folders to report the warping error on (evaluation only)
    real_frames: int = 16  # first N frames of each
    init_weights: str | None = None  # continue from a spynet.safetensors
    zero_init: bool = True  # last conv of every level starts at 0: the untrained network
    # predicts zero flow (EPE = the zero-flow baseline), not noise


@dataclass(frozen=True)
class FlowConfig:
    spynet: SpyNetTrainConfig = field(default_factory=SpyNetTrainConfig)
    name: str = "spynet"
    notes: str = ""


def load_flow_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> FlowConfig:
    import yaml

    path = Path(path)
    if not path.is_file():
        raise UsageError(f"config {path} does not exist")
    raw = yaml.safe_load(path.read_text()) or {}
    for item in overrides:
        apply_override(raw, item, source=f"{path}: override {item!r}", root=FlowConfig)
    cfg = from_dict(FlowConfig, raw, str(path))
    s = cfg.spynet
    if s.size % 32 or s.size < 32:
        raise UsageError(f"{path}: spynet.size must be a multiple of 32, got {s.size}")
    if len(s.level_iterations) != SPyNet.num_levels:
        raise UsageError(f"{path}: spynet.level_iterations needs {SPyNet.num_levels} entries (one per level)")
    return cfg


class CorpusPairs:
    """Crops of neighbouring frames ``(t, t+1)`` with their exact flow from a corpus folder.

    The corpus (``freqvsr.data.corpus``) stores ``flow.npy`` (N-1, 2, H, W) and ``flow_valid.npy``
    beside each synthetic clip's frames, with ``flow_warp(frame[t+1], flow[t]) ~= frame[t]``: that
    is SPyNet's ``forward(ref=frame[t], supp=frame[t+1])``. Clips are split by name: every 10th
    (at least one) is held out for validation.
    """

    def __init__(self, root: str | Path, size: int, split: str = "train") -> None:
        folders = sorted(p.parent for p in Path(root).rglob("flow.npy"))
        if not folders:
            raise UsageError(f"spynet.corpus {root}: no clip with flow.npy (build it with `freqvsr data build-corpus`)")
        val = folders[::10]
        self.folders = val if split == "val" else [f for f in folders if f not in val] or val
        self.size = size
        self._cache: dict[Path, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}

    def _clip(self, folder: Path) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        import numpy as np

        if folder not in self._cache:
            from PIL import Image

            from freqvsr.io import list_images

            frames = np.stack([np.asarray(Image.open(p).convert("RGB")) for p in list_images(folder)])
            self._cache[folder] = (
                torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255.0,
                torch.from_numpy(np.load(folder / "flow.npy")).float(),
                torch.from_numpy(np.load(folder / "flow_valid.npy")),
            )
        return self._cache[folder]

    def batch(self, seed: int, count: int) -> tuple[torch.Tensor, ...]:
        g = torch.Generator().manual_seed(seed)
        out = []
        for _ in range(count):
            frames, flow, valid = self._clip(self.folders[int(torch.randint(len(self.folders), (), generator=g))])
            t = int(torch.randint(len(flow), (), generator=g))
            h, w = flow.shape[-2:]
            if min(h, w) < self.size:
                raise UsageError(f"spynet.size {self.size} is larger than corpus frames {w}x{h}")
            y = int(torch.randint(h - self.size + 1, (), generator=g))
            x = int(torch.randint(w - self.size + 1, (), generator=g))
            crop = (..., slice(y, y + self.size), slice(x, x + self.size))
            out.append((frames[t][crop], frames[t + 1][crop], flow[t][crop], valid[t][crop]))
        return tuple(torch.stack(x) for x in zip(*out, strict=True))


def make_batch(cfg: SpyNetTrainConfig, seed: int, count: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``count`` procedural pairs ``(ref, supp, flow)`` drawn from generator ``seed`` (deterministic)."""
    g = torch.Generator().manual_seed(seed)
    kw = {"max_rotation_deg": cfg.max_rotation_deg, "max_zoom": cfg.max_zoom, "local": cfg.local}
    if cfg.layers > 1:
        pairs = [layered_flow_pair(g, cfg.size, cfg.size, cfg.max_shift, cfg.layers, **kw) for _ in range(count)]
    else:
        pairs = [flow_pair(g, cfg.size, cfg.size, cfg.max_shift, **kw) for _ in range(count)]
    return tuple(torch.stack(x) for x in zip(*pairs, strict=True))  # type: ignore[return-value]


def pyramid_flows(spynet: SPyNet, ref: torch.Tensor, supp: torch.Tensor, upto: int) -> list[torch.Tensor]:
    """Flow estimate after each level ``0..upto`` (inputs a multiple of 32, no resizing).

    The same computation as ``SPyNet.compute_flow`` (which returns only the last level); repeated
    here because level-wise training needs the intermediate estimates.
    """
    refs, supps = [(ref - spynet.mean) / spynet.std], [(supp - spynet.mean) / spynet.std]
    for _ in range(spynet.num_levels - 1):
        refs.append(F.avg_pool2d(refs[-1], 2, 2, count_include_pad=False))
        supps.append(F.avg_pool2d(supps[-1], 2, 2, count_include_pad=False))
    refs, supps = refs[::-1], supps[::-1]
    n, _, h, w = ref.shape
    flow = ref.new_zeros(n, 2, h // 32, w // 32)
    out = []
    for level in range(upto + 1):
        flow_up = flow if level == 0 else F.interpolate(flow, scale_factor=2, mode="bilinear", align_corners=True) * 2.0
        warped = flow_warp(supps[level], flow_up.permute(0, 2, 3, 1), padding_mode="border")
        flow = flow_up + spynet.basic_module[level](torch.cat([refs[level], warped, flow_up], 1))
        out.append(flow)
    return out


def downsample_flow(flow: torch.Tensor, level: int, levels: int = 6) -> torch.Tensor:
    """Ground truth at pyramid ``level``: average-pooled and divided by the pooling factor."""
    factor = 2 ** (levels - 1 - level)
    return flow if factor == 1 else F.avg_pool2d(flow, factor, factor) / factor


def epe(pred: torch.Tensor, gt: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
    """Mean end-point error (pixels) of flows (N, 2, H, W), over the ``valid`` (N, H, W) pixels if given."""
    err = (pred - gt).pow(2).sum(1).add(1e-12).sqrt()
    if valid is None:
        return err.mean()
    valid = valid.to(err.dtype)
    return (err * valid).sum() / valid.sum().clamp(min=1.0)


def downsample_valid(valid: torch.Tensor | None, level: int, levels: int = 6) -> torch.Tensor | None:
    """A pixel of pyramid ``level`` is valid when every full-resolution pixel under it is."""
    factor = 2 ** (levels - 1 - level)
    if valid is None or factor == 1:
        return valid
    return F.avg_pool2d(valid[:, None].float(), factor, factor)[:, 0] > 0.999


@torch.no_grad()
def evaluate(spynet: SPyNet, pairs: tuple[torch.Tensor, ...], chunk: int = 16) -> dict[str, float]:
    """EPE of the full network on held-out pairs ``(ref, supp, flow[, valid])``, and of the zero
    flow (the baseline)."""
    ref, supp, gt = pairs[:3]
    valid = pairs[3] if len(pairs) > 3 else None
    total, zero = 0.0, 0.0
    for i in range(0, len(ref), chunk):
        part = slice(i, i + chunk)
        v = valid[part] if valid is not None else None
        pred = spynet(ref[part], supp[part])
        total += float(epe(pred, gt[part], v)) * len(pred)
        zero += float(epe(torch.zeros_like(gt[part]), gt[part], v)) * len(pred)
    return {"epe": total / len(ref), "epe_zero": zero / len(ref)}


def read_frames(path: str | Path, count: int) -> torch.Tensor:
    """The first ``count`` frames of a video or frame folder as (T, 3, H, W) float in [0, 1]."""
    from freqvsr.io import open_input

    frames = []
    with open_input(path) as src:
        for frame in src:
            img = torch.from_numpy(frame.image.astype("float32")) / (
                255.0 if frame.image.dtype.name == "uint8" else 65535.0
            )
            frames.append(img.permute(2, 0, 1))
            if len(frames) == count:
                break
    return torch.stack(frames)


@torch.no_grad()
def warping_error(spynet: SPyNet | None, frames: torch.Tensor, border: int = 8) -> float:
    """Mean |frame_t - warp(frame_t+1, flow_t)| over neighbours (L1 on [0, 1], ``border`` pixels
    cropped): how well the flow explains real motion. ``spynet=None`` scores the zero flow."""
    errors = []
    for t in range(len(frames) - 1):
        ref, supp = frames[t : t + 1], frames[t + 1 : t + 2]
        warped = (
            supp if spynet is None else flow_warp(supp, spynet(ref, supp).permute(0, 2, 3, 1), padding_mode="border")
        )
        diff = (warped - ref).abs()[..., border:-border, border:-border]
        errors.append(float(diff.mean()))
    return sum(errors) / len(errors)


def pretrain_spynet(cfg: FlowConfig, out_dir: str | Path, *, progress: bool = True) -> dict[str, Any]:
    """Train SPyNet coarse-to-fine; writes ``spynet.safetensors``; returns EPE numbers."""
    from safetensors.torch import save_file
    from tqdm import tqdm

    from freqvsr.models._checkpoint import (
        load_state_dict_strict,
        read_checkpoint_tensors,
    )

    s, out_dir = cfg.spynet, Path(out_dir)
    torch.manual_seed(s.seed)
    spynet = SPyNet()
    if s.init_weights:
        load_state_dict_strict(spynet, read_checkpoint_tensors(s.init_weights), s.init_weights)
    elif s.zero_init:
        for level in spynet.basic_module:
            last = level.basic_module[-1].conv
            torch.nn.init.zeros_(last.weight)
            torch.nn.init.zeros_(last.bias)
    log = Logger(out_dir)
    if s.corpus:
        train_pairs, val_pairs = CorpusPairs(s.corpus, s.size, "train"), CorpusPairs(s.corpus, s.size, "val")
        draw = train_pairs.batch
        val = val_pairs.batch(mix_seed(s.seed, 999_983), s.val_pairs)  # held-out clips
    else:
        draw = lambda seed, count: make_batch(s, seed, count)
        val = make_batch(s, mix_seed(s.seed, 999_983), s.val_pairs)  # held out: its own seed stream
    before = evaluate(spynet, val)
    log.scalars(0, before, kind="val")

    stages = [(level, n) for level, n in enumerate(s.level_iterations) if n > 0]
    if s.finetune_iterations > 0:
        stages.append((None, s.finetune_iterations))
    total = sum(n for _, n in stages)
    bar = tqdm(total=total, disable=not progress, desc=cfg.name, dynamic_ncols=True)
    step, t0 = 0, time.time()
    for level, iterations in stages:
        params = list(spynet.parameters()) if level is None else list(spynet.basic_module[level].parameters())
        optimizer = torch.optim.Adam(params, lr=s.lr, betas=(0.9, 0.999))
        for i in range(iterations):
            ref, supp, gt, *valid = draw(mix_seed(s.seed, step), s.batch_size)
            valid = valid[0] if valid else None
            if level is None:
                loss = epe(spynet(ref, supp), gt, valid)
            else:
                loss = epe(
                    pyramid_flows(spynet, ref, supp, level)[-1],
                    downsample_flow(gt, level),
                    downsample_valid(valid, level),
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            bar.update(1)
            if step % s.log_every == 0 or i == iterations - 1:
                stage = "finetune" if level is None else f"level{level}"
                log.scalars(step, {"epe": float(loss.detach()), "level": -1 if level is None else level}, kind="train")
                bar.set_postfix(stage=stage, epe=f"{float(loss.detach()):.3f}")
        log.scalars(step, evaluate(spynet, val), kind="val")
    bar.close()
    after = evaluate(spynet, val)
    result = {
        "epe": after["epe"],
        "epe_zero": after["epe_zero"],
        "epe_init": before["epe"],
        "pairs": s.val_pairs,
        "iterations": step,
        "wall_time_s": round(time.time() - t0, 1),
        "protocol": f"mean EPE (px) at {s.size}x{s.size} over {s.val_pairs} held-out "
        + ("corpus pairs (held-out clips), valid pixels" if s.corpus else "procedural pairs, all pixels"),
    }
    for clip in s.real_clips:
        frames = read_frames(clip, s.real_frames)
        result.setdefault("warping_error", {})[str(clip)] = {
            "spynet": warping_error(spynet, frames),
            "zero_flow": warping_error(None, frames),
            "protocol": (
                f"mean L1 of frame_t - warp(frame_t+1) on [0,1], first {len(frames)} frames, 8 px border cropped"
            ),
        }
    out_dir.mkdir(parents=True, exist_ok=True)
    weights = out_dir / "spynet.safetensors"
    tmp = weights.with_name(weights.name + ".tmp")
    tensors = {k: v.detach().contiguous().clone() for k, v in spynet.state_dict().items()}
    save_file(tensors, str(tmp), metadata={"freqvsr_spynet": json.dumps({**result, "config": _plain_cfg(cfg)})})
    tmp.replace(weights)
    result["weights"] = str(weights)
    log.text(step, {"kind": "done", **result})
    log.close()
    return result


def _plain_cfg(cfg: FlowConfig) -> dict[str, Any]:
    import dataclasses

    return json.loads(json.dumps(dataclasses.asdict(cfg)))
