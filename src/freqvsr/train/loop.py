"""The training loop: one function, :func:`train`, readable top to bottom.

Per iteration: set every group's learning rate from the schedule -> next batch -> forward under
autocast -> loss -> backward (GradScaler for fp16) -> drop gradients of frozen modules -> clip ->
optimizer step -> EMA update -> (discriminator step for GAN recipes) -> log / validate / checkpoint.

Everything that makes a run resumable is saved in ``OUT/training_state.pt`` (see ``state.py``);
``train(cfg, out, resume=True)`` continues so that the loss curve equals an uninterrupted run's.
Under ``torchrun`` the model is wrapped in DistributedDataParallel and every process takes its
slice of each global batch (``data.py``).
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import platform
import time
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from freqvsr.errors import ModelError, UsageError
from freqvsr.inference.device import resolve_device
from freqvsr.models import VSRModel, create_model, save_checkpoint
from freqvsr.train import distributed
from freqvsr.train.config import Config
from freqvsr.train.data import BatchStream, build_dataset
from freqvsr.train.ema import EMA
from freqvsr.train.logger import Logger
from freqvsr.train.objective import Objective
from freqvsr.train.schedule import learning_rate
from freqvsr.train.state import (
    STATE_FILE,
    capture_rng,
    load_state,
    restore_rng,
    save_state,
)

_AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass
class TrainResult:
    out_dir: Path
    iteration: int
    wall_time_s: float
    losses: list[float] = field(default_factory=list)  # loss per iteration run in this call (main process)
    final: Path | None = None  # final.safetensors (None when stopped early)
    best: Path | None = None
    val: dict[str, Any] | None = None
    stopped: str | None = None  # "max_seconds" when train.max_seconds ended the run


def build_model(cfg: Config) -> VSRModel:
    from freqvsr.models._checkpoint import (
        load_state_dict_strict,
        read_checkpoint_tensors,
    )

    m = cfg.model
    strict_init = m.weights if m.weights and m.weights_strict else None  # None: random initialisation
    model = create_model(m.name, weights=strict_init, **m.args)
    if m.weights and not m.weights_strict:
        # e.g. FastRealVSR stage 2 = stage-1 network + HSA: load every tensor whose name and shape fit
        own = model.state_dict()
        state = {k: v for k, v in read_checkpoint_tensors(m.weights).items() if k in own and own[k].shape == v.shape}
        if not state:
            raise ModelError(f"model.weights {m.weights}: no tensor fits {m.name!r}")
        model.load_state_dict(state, strict=False)
    if m.flow_weights:
        spynet = getattr(model, "spynet", None)
        if spynet is None:
            raise UsageError(f"model.flow_weights is set but {m.name!r} has no 'spynet' sub-module")
        load_state_dict_strict(spynet, read_checkpoint_tensors(m.flow_weights), m.flow_weights)
    return model


def param_groups(model: nn.Module, multipliers: dict[str, float], base_lr: float) -> list[dict[str, Any]]:
    """One optimizer group per sub-module named in ``multipliers`` (``model.lr_multipliers()``)
    plus a ``base`` group for everything else. Names are module paths, not parameter-name
    substrings, so a parameter called ``spynet_gate`` elsewhere is not caught by accident."""
    taken: set[int] = set()
    groups = []
    for name, mult in multipliers.items():
        try:
            sub = model.get_submodule(name)
        except AttributeError:
            raise ModelError(
                f"lr_multipliers names {name!r}, which is not a sub-module of {type(model).__name__}"
            ) from None
        params = [p for p in sub.parameters() if id(p) not in taken]
        taken.update(id(p) for p in params)
        groups.append({"params": params, "name": name, "base_lr": base_lr * mult, "lr": base_lr * mult})
    rest = [p for p in model.parameters() if id(p) not in taken]
    return [{"params": rest, "name": "base", "base_lr": base_lr, "lr": base_lr}, *groups]


def frozen_parameters(model: nn.Module, cfg: Config, iteration: int) -> list[nn.Parameter]:
    """Parameters whose update is skipped at ``iteration`` (``train.freeze``)."""
    out: list[nn.Parameter] = []
    for rule in cfg.train.freeze:
        if iteration < rule.iterations:
            for name in rule.modules:
                try:
                    out.extend(model.get_submodule(name).parameters())
                except AttributeError:
                    raise UsageError(
                        f"train.freeze names {name!r}, which is not a sub-module of {cfg.model.name}"
                    ) from None
    return out


def align(sr: torch.Tensor, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(sr, gt, lq)`` as (N, C, H, W): window models predict the centre frame only."""
    lq, gt = batch["lq"], batch["gt"]
    if sr.dim() == 4:
        centre = gt.shape[1] // 2
        return sr, gt[:, centre], lq[:, centre]
    return sr.flatten(0, 1), gt.flatten(0, 1), lq.flatten(0, 1)


@torch.no_grad()
def validate(model: nn.Module, dataset, cfg: Config, device: torch.device) -> dict[str, Any]:
    """Mean over clips of the per-clip mean over frames of the metric (outputs clamped to [0, 1])."""
    from freqvsr.metrics import psnr, ssim

    v = cfg.val
    fn = ssim if v.metric.startswith("ssim") else psnr
    was_training = model.training
    model.eval()
    scores, baseline, sample = [], [], None
    n = len(dataset) if not v.max_clips else min(v.max_clips, len(dataset))
    for i in range(n):
        item = dataset[i]
        batch = {"lq": item["lq"][None].to(device), "gt": item["gt"][None].to(device)}
        sr, gt, lq = align(model(batch["lq"]).float().clamp(0, 1), batch)
        per_frame = fn(sr.double(), gt.double(), y_channel=v.metric.endswith("_y"), crop_border=v.crop_border)
        scores.append(float(per_frame.mean()))
        # bicubic up-sampling of the same LQ, scored the same way: the number to beat
        up = F.interpolate(lq.float(), size=gt.shape[-2:], mode="bicubic", align_corners=False).clamp(0, 1)
        baseline.append(
            float(fn(up.double(), gt.double(), y_channel=v.metric.endswith("_y"), crop_border=v.crop_border).mean())
        )
        if sample is None:
            sample = torch.cat([up[0], sr[0], gt[0]], dim=-1).clamp(0, 1)
    model.train(was_training)
    frames = "centre frame" if getattr(model, "temporal", "") == "window" else "all frames"
    protocol = (
        f"{v.metric} ({'Y BT.601' if v.metric.endswith('_y') else 'RGB'}, crop_border={v.crop_border}, "
        f"{frames}, output clamped to [0,1], float64; mean over frames then clips)"
    )
    return {
        "name": v.metric,
        "value": sum(scores) / len(scores),
        "protocol": protocol,
        "clips": n,
        "bicubic": sum(baseline) / len(baseline),
        "dataset": f"{v.data.kind}:{v.data.root or ''}" if v.data else "",
        "sample": sample,
    }


def hardware(device: torch.device, world: int) -> str:
    if device.type == "cuda":
        what = torch.cuda.get_device_name(device)
    else:
        what = platform.processor() or platform.machine()
        try:  # Linux names the CPU model here; platform.processor() is often empty
            with open("/proc/cpuinfo") as f:
                what = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), what)
        except OSError:
            pass
    return f"{world} x {device.type} ({what}), torch {torch.__version__}, {torch.get_num_threads()} threads/process"


# Set by simulated_interruption (tests): the iteration after which train() saves its state and
# returns, as an interrupted run would. Not an argument of train(): it is no user option.
_STOP_AFTER_ITERATION: contextvars.ContextVar[int | None] = contextvars.ContextVar("stop_after_iteration", default=None)


@contextlib.contextmanager
def simulated_interruption(iteration: int) -> Iterator[None]:
    """Within this block, :func:`train` stops after ``iteration`` (saving its resumable state) as an
    interrupted run would: how the tests interrupt a run at a known point without a signal."""
    token = _STOP_AFTER_ITERATION.set(int(iteration))
    try:
        yield
    finally:
        _STOP_AFTER_ITERATION.reset(token)


def train(cfg: Config, out_dir: str | Path, *, resume: bool = False, progress: bool = True) -> TrainResult:
    """Train ``cfg`` into ``out_dir``. ``resume``: continue from ``out_dir/training_state.pt``."""
    from tqdm import tqdm

    stop_after = _STOP_AFTER_ITERATION.get()

    out_dir = Path(out_dir)
    t = cfg.train
    try:
        device = resolve_device(t.device, local_rank=int(os.environ.get("LOCAL_RANK", "0")))
    except UsageError as exc:  # the recipe's key, not the engine's parameter
        raise UsageError(f"train.device: {exc}") from None
    dist = distributed.setup(device.type)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    torch.manual_seed(t.seed)  # same initial weights on every process
    log = Logger(out_dir, enabled=dist.is_main)

    model = build_model(cfg).to(device)
    multipliers = model.lr_multipliers() if t.use_lr_multipliers else {}
    groups = param_groups(model, multipliers, cfg.optimizer.lr)
    opt_cls = torch.optim.AdamW if cfg.optimizer.kind == "adamw" else torch.optim.Adam
    optimizer = opt_cls(
        groups,
        lr=cfg.optimizer.lr,
        betas=cfg.optimizer.betas,
        eps=cfg.optimizer.eps,
        weight_decay=cfg.optimizer.weight_decay,
    )
    objective = Objective(cfg.loss).to(device)
    disc = objective.discriminator
    disc_opt = torch.optim.Adam(disc.parameters(), lr=t.discriminator_lr, betas=(0.9, 0.99)) if disc else None
    ema = EMA(model, t.ema_decay, warmup=t.ema_warmup) if t.ema_decay > 0 else None
    amp_dtype = _AMP_DTYPES.get(t.amp)
    scaler = torch.amp.GradScaler(device.type, enabled=t.amp == "fp16")
    disc_scaler = torch.amp.GradScaler(device.type, enabled=t.amp == "fp16")

    stream = BatchStream(
        build_dataset(cfg.data, cfg, split="train"),
        t.batch_size,
        seed=t.seed,
        rank=dist.rank,
        world=dist.world,
        num_workers=cfg.data.num_workers,
    )
    val_set = build_dataset(cfg.val.data, cfg, split="val") if cfg.val.data is not None and dist.is_main else None

    start, wall_before, best = 0, 0.0, None
    if resume:
        state = load_state(out_dir / STATE_FILE)
        if state["config"]["model"] != cfg.to_dict()["model"]:
            raise UsageError(f"cannot resume {out_dir}: its model section differs from this config's")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scaler.load_state_dict(state["scaler"])
        if ema is not None:
            ema.load_state_dict(state["ema"])
        if disc is not None:
            disc.load_state_dict(state["discriminator"])
            disc_opt.load_state_dict(state["discriminator_optimizer"])
            disc_scaler.load_state_dict(state["discriminator_scaler"])
        stream.load_state_dict(state["data"])
        start, wall_before, best = state["iteration"], state["wall_time_s"], state["best"]
        restore_rng(state["rng"][dist.rank] if dist.rank < len(state["rng"]) else state["rng"][0])

    net: nn.Module = model
    if dist.enabled:
        ids = [device.index] if device.type == "cuda" else None
        net = nn.parallel.DistributedDataParallel(model, device_ids=ids)
        disc_net = nn.parallel.DistributedDataParallel(disc, device_ids=ids) if disc is not None else None
    else:
        disc_net = disc

    def save_training_state(iteration: int) -> None:
        rng = capture_rng()
        if dist.enabled:  # each process has its own RNG streams; keep them all
            gathered: list[Any] = [None] * dist.world
            torch.distributed.all_gather_object(gathered, rng)
            rng_all = gathered
        else:
            rng_all = [rng]
        if not dist.is_main:
            return
        state = {
            "iteration": iteration,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scaler": scaler.state_dict(),
            "ema": ema.state_dict() if ema else None,
            "discriminator": disc.state_dict() if disc else None,
            "discriminator_optimizer": disc_opt.state_dict() if disc_opt else None,
            "discriminator_scaler": disc_scaler.state_dict(),
            "data": stream.state_dict(),
            "rng": rng_all,
            "config": cfg.to_dict(),
            "wall_time_s": wall_before + time.time() - t0,
            "best": best,
        }
        save_state(out_dir / STATE_FILE, state)

    def run_validation(iteration: int) -> dict[str, Any] | None:
        nonlocal best
        if val_set is None:
            return None
        result = validate(ema.model if ema is not None and cfg.val.use_ema else model, val_set, cfg, device)
        sample = result.pop("sample")
        log.scalars(
            iteration, {result["name"]: result["value"], f"{result['name']}_bicubic": result["bicubic"]}, kind="val"
        )
        if t.image_every and sample is not None:
            log.image(iteration, "val/lq_sr_gt", sample)
        if best is None or result["value"] > best["value"]:  # psnr and ssim: higher is better
            best = {**result, "iteration": iteration}
            save_checkpoint(
                ema.model if ema else model, out_dir / "best.safetensors", training=metadata(iteration), metrics=[best]
            )
        return result

    def metadata(iteration: int) -> dict[str, Any]:
        return {
            "recipe": cfg.name,
            "iterations": iteration,
            "wall_time_s": round(wall_before + time.time() - t0, 1),
            "hardware": hardware(device, dist.world),
            "data": cfg.to_dict()["data"],
            "degradation": cfg.to_dict()["degradation"],
            "seed": t.seed,
            "ema": ema is not None,
            "config": cfg.to_dict(),
        }

    t0 = time.time()
    result = TrainResult(out_dir, start, wall_before)
    end = t.iterations if stop_after is None else min(t.iterations, stop_after)
    bar = tqdm(
        total=t.iterations, initial=start, disable=not (progress and dist.is_main), desc=cfg.name, dynamic_ncols=True
    )
    net.train()
    autocast = (lambda: torch.autocast(device.type, dtype=amp_dtype)) if amp_dtype else nullcontext
    # data_wait: the fraction of wall time since the last log line spent waiting for stream.next()
    # (1.0 = data-bound, ~0 = the loader keeps up with the steps).
    wait_s, since = 0.0, time.perf_counter()
    for it in range(start, end):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(cfg.schedule, it, group["base_lr"], t.iterations)
        t_wait = time.perf_counter()
        batch = stream.next()
        wait_s += time.perf_counter() - t_wait
        lq, gt_clip = batch["lq"].to(device, non_blocking=True), batch["gt"].to(device, non_blocking=True)

        if disc is not None:
            disc.requires_grad_(False)  # the generator's adversarial term must not train D
        with autocast():
            sr, gt, lq_frames = align(net(lq), {"lq": lq, "gt": gt_clip})
        loss, parts = objective.generator_loss(sr.float(), gt, lq_frames)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        for p in frozen_parameters(model, cfg, it):
            p.grad = None  # Adam skips parameters without a gradient: frozen, moments untouched
        scaler.unscale_(optimizer)
        if t.grad_clip > 0:
            parts["grad_norm"] = float(nn.utils.clip_grad_norm_(model.parameters(), t.grad_clip))
        scaler.step(optimizer)
        scaler.update()
        if ema is not None:
            ema.update(model, it)

        if disc is not None:
            disc.requires_grad_(True)
            with autocast():
                fake, real = objective.adversarial_sample(sr.detach().float(), gt)
                d_loss = discriminator_loss(disc_net, objective.gan_kind, fake, real)
            disc_opt.zero_grad(set_to_none=True)
            disc_scaler.scale(d_loss).backward()
            disc_scaler.step(disc_opt)
            disc_scaler.update()
            parts["loss_discriminator"] = float(d_loss.detach())

        iteration = it + 1
        loss_value = float(distributed.mean_over_processes(loss.detach(), dist))
        result.losses.append(loss_value)
        bar.update(1)
        if iteration % t.log_every == 0 or iteration == end:
            if dist.enabled:  # loss parts are per process until averaged (every process gets here)
                parts = {k: float(distributed.mean_over_processes(torch.tensor(v), dist)) for k, v in parts.items()}
            lrs = {f"lr_{g['name']}": g["lr"] for g in optimizer.param_groups}
            now = time.perf_counter()
            data_wait = wait_s / max(now - since, 1e-9)
            wait_s, since = 0.0, now
            log.scalars(iteration, {"loss": loss_value, **parts, **lrs, "epoch": stream.epoch, "data_wait": data_wait})
            bar.set_postfix(loss=f"{loss_value:.4f}", lr=f"{optimizer.param_groups[0]['lr']:.2e}")
        if t.val_every and iteration % t.val_every == 0 and iteration < t.iterations:
            if dist.is_main:
                run_validation(iteration)
            distributed.barrier(dist)
        # train.max_seconds: every process must stop at the same iteration, so the decision is shared
        out_of_time = (
            bool(t.max_seconds)
            and float(
                distributed.mean_over_processes(
                    torch.tensor(float(time.time() - t0 >= t.max_seconds), device=device), dist
                )
            )
            > 0
        )
        if (t.ckpt_every and iteration % t.ckpt_every == 0) or iteration == end or out_of_time:
            save_training_state(iteration)
        result.iteration = iteration
        if out_of_time and iteration < end:
            result.stopped = "max_seconds"
            log.text(
                iteration,
                {
                    "kind": "stopped",
                    "reason": f"train.max_seconds={t.max_seconds:g} reached",
                    "iteration": iteration,
                    "of": t.iterations,
                },
            )
            break
    bar.close()

    result.wall_time_s = wall_before + time.time() - t0
    if (result.iteration >= t.iterations or result.stopped) and dist.is_main:
        result.val = run_validation(result.iteration)
        metrics = [{k: v for k, v in result.val.items()}] if result.val else []
        result.final = save_checkpoint(
            ema.model if ema else model,
            out_dir / "final.safetensors",
            training=metadata(result.iteration),
            metrics=metrics,
        )
        result.best = out_dir / "best.safetensors" if best is not None else None
        log.text(result.iteration, {"kind": "done", "final": str(result.final), "wall_time_s": result.wall_time_s})
    log.close()
    distributed.teardown(dist)
    return result


def discriminator_loss(disc: nn.Module, kind: str, sr: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """The discriminator's loss on real ``gt`` and fake ``sr``. One forward of both stacked: under
    DDP every parameter is then used exactly once per step, as its gradient hooks expect."""
    from freqvsr.losses.gan import gan_loss

    logits = disc(torch.cat([gt, sr], dim=0))
    real, fake = logits[: gt.shape[0]], logits[gt.shape[0] :]
    return gan_loss(real, True, is_disc=True, kind=kind) + gan_loss(fake, False, is_disc=True, kind=kind)
