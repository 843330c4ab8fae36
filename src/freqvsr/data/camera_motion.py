"""Synthetic camera-motion clips cut from a still photograph, with exact ground-truth optical flow.

A virtual camera looks at the photograph through a window that pans, zooms slightly and rotates
slightly along a smooth random trajectory. Frame ``t`` samples the (antialiased, down-scaled)
photograph at ``S_t(p) = c_t + M_t (p - p_c)`` for every output pixel ``p`` (``M_t`` = zoom x
rotation, ``p_c`` the frame centre), rendered with bicubic ``grid_sample``. Optional overlays are
rectangles of other picture content moving on top with their own velocity (an independently moving
object; they occlude the background).

Because the maps are known, the flow is exact, not estimated. **Convention** (that of
:func:`freqvsr.functional.flow.flow_warp` and of BasicVSR's ``flows_backward``): ``flow[t]`` is
defined on the grid of frame ``t`` and points to where that surface point is in frame ``t + 1``::

    flow_warp(frame[t + 1], flow[t]) ~= frame[t]      for t = 0 .. N-2   (flow: (N-1, 2, H, W))

channel 0 = x (right), channel 1 = y (down), in pixels. For the background,
``p + flow(p) = S_{t+1}^{-1}(S_t(p))``; on an overlay it is the overlay's displacement.
``valid[t]`` is False where the point leaves the frame or is hidden in frame ``t + 1`` (occluded by
or revealed from under an overlay): there no flow can reproduce frame ``t``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["MotionConfig", "SyntheticClip", "synthetic_clip"]


@dataclass(frozen=True)
class MotionConfig:
    """Ranges of the random camera trajectory (output pixels / frame, relative zoom, degrees).

    Defaults give 0.5-6 px/frame pans that curve smoothly, zoom drifting within +-8 % and rotation
    within +-3 degrees over the clip: the range of motion of hand-held and panning footage at
    REDS-like resolution, and within what SPyNet's pyramid resolves.
    """

    min_speed: float = 0.5
    max_speed: float = 6.0
    max_zoom: float = 0.08
    max_rotation: float = 3.0
    max_downscale: float = 3.0  # photo pixels per output pixel at most (wider views are downscaled more)
    overlays: int = 0
    overlay_speed: float = 4.0


@dataclass
class SyntheticClip:
    """``frames`` (N, H, W, 3) uint8; ``flow`` (N-1, 2, H, W) float32; ``valid`` (N-1, H, W) bool;
    ``motion``: JSON-able description (per-frame affine maps, overlays) that regenerates the flow."""

    frames: np.ndarray
    flow: np.ndarray
    valid: np.ndarray
    motion: dict[str, Any] = field(default_factory=dict)


def _rand(g: torch.Generator, n: int = 1) -> np.ndarray:
    return torch.rand(n, generator=g, dtype=torch.float64).numpy()


def _smooth_curve(g: torch.Generator, n: int, k: int = 3) -> np.ndarray:
    """A smooth random curve over ``n`` frames with values in about [-1, 1]: a few sinusoids with
    periods between half the clip and four clips (no jitter: real camera paths are smooth)."""
    t = np.arange(n, dtype=np.float64)
    u = _rand(g, 3 * k).reshape(k, 3)
    y = np.zeros(n)
    for amp, freq, phase in u:
        period = max(n, 2) * (0.5 + 3.5 * freq)
        y += (0.5 + 0.5 * amp) * np.sin(2 * math.pi * t / period + 2 * math.pi * phase)
    return y / k


def _trajectory(g: torch.Generator, n: int, cfg: MotionConfig):
    """Centre offsets (n, 2) in output pixels and the linear parts M_t (n, 2, 2)."""
    speed = cfg.min_speed + (cfg.max_speed - cfg.min_speed) * _rand(g)[0]
    heading = 2 * math.pi * _rand(g)[0]
    turn = _smooth_curve(g, n) * (math.pi / 3)  # the pan direction drifts by up to ~60 degrees
    accel = 1 + 0.5 * _smooth_curve(g, n)  # and the speed by +-50 %
    v = speed * accel[:, None] * np.stack([np.cos(heading + turn), np.sin(heading + turn)], axis=1)
    pos = np.concatenate([np.zeros((1, 2)), np.cumsum(v[:-1], axis=0)], axis=0)
    log_zoom = math.log1p(cfg.max_zoom) * _smooth_curve(g, n)
    angle = math.radians(cfg.max_rotation) * _smooth_curve(g, n)
    z = np.exp(log_zoom)
    cos, sin = np.cos(angle) * z, np.sin(angle) * z
    m = np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], axis=1)  # (n, 2, 2)
    return pos, m


def _grid(h: int, w: int) -> np.ndarray:
    ys, xs = np.meshgrid(np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64), indexing="ij")
    return np.stack([xs, ys], axis=-1)  # (h, w, 2), x first


def _sample(img: torch.Tensor, coords: np.ndarray) -> torch.Tensor:
    """Bicubic samples of ``img`` (1, 3, Hi, Wi) at pixel coordinates ``coords`` (N, h, w, 2)."""
    hi, wi = img.shape[-2:]
    c = torch.from_numpy(coords).to(img.dtype)
    gx = 2 * c[..., 0] / max(wi - 1, 1) - 1
    gy = 2 * c[..., 1] / max(hi - 1, 1) - 1
    grid = torch.stack([gx, gy], dim=-1)
    out = F.grid_sample(
        img.expand(grid.shape[0], -1, -1, -1), grid, mode="bicubic", padding_mode="border", align_corners=True
    )
    return out.clamp_(0, 1)


def synthetic_clip(
    photo: np.ndarray,
    num_frames: int,
    size: tuple[int, int],
    generator: torch.Generator,
    config: MotionConfig = MotionConfig(),
) -> SyntheticClip:
    """Cut a ``num_frames`` clip of ``size = (H, W)`` from ``photo`` ((Hp, Wp, 3) uint8 RGB).

    The window scale (photo pixels per output pixel) is drawn in ``[1, max_downscale]`` but never
    above what keeps the whole trajectory inside the photograph; ValueError when even 1:1 does not
    fit (the caller should ask for a smaller ``size``). Deterministic in ``generator``'s state.
    """
    if num_frames < 2:
        raise ValueError(f"a synthetic clip needs >= 2 frames, got {num_frames}")
    h, w = size
    hp, wp = photo.shape[:2]
    pos, m = _trajectory(generator, num_frames, config)
    pc = np.array([(w - 1) / 2, (h - 1) / 2])
    corners = np.array([[0, 0], [w - 1, 0], [0, h - 1], [w - 1, h - 1]], dtype=np.float64) - pc
    # Sampled positions relative to the first centre, in output-pixel units, over the whole clip.
    ext = pos[:, None, :] + np.einsum("nij,kj->nki", m, corners)
    lo, hi = ext.reshape(-1, 2).min(0) - 3, ext.reshape(-1, 2).max(0) + 3  # +-3: bicubic support
    span = hi - lo  # (x, y)
    r_max = min(wp / span[0], hp / span[1], config.max_downscale)
    if r_max < 1:
        raise ValueError(f"photo {wp}x{hp} is too small for a {w}x{h} clip with this motion")
    r = 1 + (r_max - 1) * _rand(generator)[0]
    # The photo region the trajectory needs, placed at random, then down-scaled by r (antialiased).
    rw, rh = min(wp, math.ceil(span[0] * r)), min(hp, math.ceil(span[1] * r))
    ox = int((wp - rw) * _rand(generator)[0])
    oy = int((hp - rh) * _rand(generator)[0])
    crop = np.ascontiguousarray(photo[oy : oy + rh, ox : ox + rw])
    region = torch.from_numpy(crop).permute(2, 0, 1)[None].float() / 255
    out_w, out_h = max(2, round(rw / r)), max(2, round(rh / r))
    if (out_w, out_h) != (rw, rh):
        region = F.interpolate(region, size=(out_h, out_w), mode="bicubic", antialias=True, align_corners=False).clamp_(
            0, 1
        )
    sx, sy = (out_w - 1) / max(rw - 1, 1), (out_h - 1) / max(rh - 1, 1)  # exact resized/output-px ratio
    # S_t(p) = c_t + A (M_t (p - p_c)), with A = diag(rw_units): map output-px offsets into the resized
    # region. The isotropic case sx == sy up to rounding; keep both so coordinates stay exact.
    a = np.diag([r * sx, r * sy])
    c = (pos - lo) @ a.T  # centres in region pixels
    lin = np.einsum("ij,njk->nik", a, m)  # (n, 2, 2)
    grid = _grid(h, w) - pc  # (h, w, 2)
    coords = c[:, None, None, :] + np.einsum("nij,hwj->nhwi", lin, grid)
    frames = _sample(region, coords)  # (n, 3, h, w)

    # Flow of the background: q = p_c + L_{t+1}^{-1} (c_t - c_{t+1} + L_t (p - p_c)).
    inv = np.linalg.inv(lin[1:])
    src = coords[:-1] - c[1:, None, None, :]
    q = pc + np.einsum("nij,nhwj->nhwi", inv, src)
    flow = q - _grid(h, w)[None]
    layer_prev = np.zeros((num_frames, h, w), dtype=np.int16)

    overlays = []
    if config.overlays:
        flipped = region.flip(-1).flip(-2)  # other content than the background around it
        t = np.arange(num_frames, dtype=np.float64)[:, None]
        for k in range(config.overlays):
            u = _rand(generator, 8)
            oh = max(4, int(h * (0.15 + 0.2 * u[0])))
            ow = max(4, int(w * (0.15 + 0.2 * u[1])))
            ph, pw = min(oh, out_h), min(ow, out_w)
            py, px = int((out_h - ph) * u[2]), int((out_w - pw) * u[3])
            patch = flipped[..., py : py + ph, px : px + pw]
            ang = 2 * math.pi * u[4]
            sp = config.overlay_speed * (0.25 + 0.75 * u[5])
            start = np.array([(w - pw) * u[6], (h - ph) * u[7]])
            wobble = _smooth_curve(generator, num_frames)[:, None] * np.array([1.5, 1.5])
            o = start + sp * t * np.array([math.cos(ang), math.sin(ang)]) + wobble  # top-left (x, y)
            rel = _grid(h, w)[None] - o[:, None, None, :]
            inside = (rel[..., 0] >= 0) & (rel[..., 0] < pw) & (rel[..., 1] >= 0) & (rel[..., 1] < ph)
            layer_frames = _sample(patch, rel.clip(min=0))  # samples outside are masked away below
            ins = torch.from_numpy(inside)[:, None]
            frames = torch.where(ins, layer_frames, frames)
            layer_prev[inside] = k + 1
            d = o[1:] - o[:-1]
            flow = np.where(inside[:-1, ..., None], d[:, None, None, :], flow)
            overlays.append({"size": [pw, ph], "top_left": o.round(6).tolist()})

    # A flow vector is usable where its target is inside frame t+1 and shows the same layer there.
    qx = np.rint(_grid(h, w)[None, ..., 0] + flow[..., 0]).astype(np.int64)
    qy = np.rint(_grid(h, w)[None, ..., 1] + flow[..., 1]).astype(np.int64)
    qx_f, qy_f = _grid(h, w)[None, ..., 0] + flow[..., 0], _grid(h, w)[None, ..., 1] + flow[..., 1]
    inside_frame = (qx_f >= 0) & (qx_f <= w - 1) & (qy_f >= 0) & (qy_f <= h - 1)
    nxt = layer_prev[1:]
    source_index = (qy.clip(0, h - 1) * w + qx.clip(0, w - 1)).reshape(num_frames - 1, -1)
    same = np.take_along_axis(nxt.reshape(num_frames - 1, -1), source_index, 1)
    valid = inside_frame & (same.reshape(num_frames - 1, h, w) == layer_prev[:-1])

    u8 = (frames * 255).round_().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    affine = np.concatenate([lin, (c - np.einsum("nij,j->ni", lin, pc))[:, :, None]], axis=2)  # p -> region px
    motion = {
        "convention": "flow_warp(frame[t+1], flow[t]) ~= frame[t]; flow (N-1, 2, H, W), x then y, pixels",
        "photo_region": [ox, oy, rw, rh],
        "region_size": [out_w, out_h],
        "downscale": round(float(r), 6),
        "affine": affine.round(9).tolist(),  # per frame: region_xy = A[:, :2] @ (x, y) + A[:, 2]
        "overlays": overlays,
    }
    return SyntheticClip(u8, flow.transpose(0, 3, 1, 2).astype(np.float32), valid, motion)
