"""SPyNet pretraining on synthetic pairs with exact ground-truth flow (no weights can be downloaded).

Pairs come from :func:`freqvsr.train.synthetic.flow_pair`: a procedural texture and a smooth
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
from freqvsr.train.synthetic import flow_pair


@dataclass(frozen=True)
class SpyNetTrainConfig:
    size: int = 64                    # pair side, a multiple of 32 (SPyNet's coarsest level is size/32)
    max_shift: float = 6.0            # translation range (pixels at full resolution)
    max_rotation_deg: float = 3.0
    max_zoom: float = 0.03
    local: float = 1.0                # amplitude of the smooth non-rigid field (pixels)
    batch_size: int = 8
    lr: float = 1e-4
    level_iterations: tuple[int, ...] = (100, 100, 100, 100, 100, 100)
    finetune_iterations: int = 200
    seed: int = 0
    val_pairs: int = 32
    log_every: int = 20
    init_weights: str | None = None   # continue from a spynet.safetensors


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


def make_batch(cfg: SpyNetTrainConfig, seed: int, count: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``count`` pairs ``(ref, supp, flow)`` drawn from generator ``seed`` (deterministic)."""
    g = torch.Generator().manual_seed(seed)
    pairs = [flow_pair(g, cfg.size, cfg.size, cfg.max_shift, max_rotation_deg=cfg.max_rotation_deg,
                       max_zoom=cfg.max_zoom, local=cfg.local) for _ in range(count)]
    return tuple(torch.stack(x) for x in zip(*pairs))  # type: ignore[return-value]


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


def epe(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """Mean end-point error (pixels) of flows (N, 2, H, W)."""
    return (pred - gt).pow(2).sum(1).add(1e-12).sqrt().mean()


@torch.no_grad()
def evaluate(spynet: SPyNet, pairs: tuple[torch.Tensor, torch.Tensor, torch.Tensor], chunk: int = 16) -> dict[str, float]:
    """EPE of the full network on held-out pairs, and of the zero flow (the baseline)."""
    ref, supp, gt = pairs
    total, zero = 0.0, 0.0
    for i in range(0, len(ref), chunk):
        pred = spynet(ref[i:i + chunk], supp[i:i + chunk])
        total += float(epe(pred, gt[i:i + chunk])) * len(pred)
        zero += float(epe(torch.zeros_like(gt[i:i + chunk]), gt[i:i + chunk])) * len(pred)
    return {"epe": total / len(ref), "epe_zero": zero / len(ref)}


def pretrain_spynet(cfg: FlowConfig, out_dir: str | Path, *, progress: bool = True) -> dict[str, Any]:
    """Train SPyNet coarse-to-fine; writes ``spynet.safetensors``; returns EPE numbers."""
    from safetensors.torch import save_file
    from tqdm import tqdm

    from freqvsr.models._checkpoint import load_state_dict_strict, read_checkpoint_tensors

    s, out_dir = cfg.spynet, Path(out_dir)
    torch.manual_seed(s.seed)
    spynet = SPyNet()
    if s.init_weights:
        load_state_dict_strict(spynet, read_checkpoint_tensors(s.init_weights), s.init_weights)
    log = Logger(out_dir)
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
            ref, supp, gt = make_batch(s, mix_seed(s.seed, step), s.batch_size)
            if level is None:
                loss = epe(spynet(ref, supp), gt)
            else:
                loss = epe(pyramid_flows(spynet, ref, supp, level)[-1], downsample_flow(gt, level))
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
    result = {"epe": after["epe"], "epe_zero": after["epe_zero"], "epe_init": before["epe"], "pairs": s.val_pairs,
              "iterations": step, "wall_time_s": round(time.time() - t0, 1),
              "protocol": f"mean EPE (px) at {s.size}x{s.size} over {s.val_pairs} held-out synthetic pairs, all pixels"}
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
