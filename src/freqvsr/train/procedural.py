"""Procedural training material that needs no files: textures moved along known motion.

Used by the small CPU recipes, the tests and flow pretraining. Every function takes an explicit
``torch.Generator`` (docs/design.md, convention 8), so a sample is a pure function of its seed.

A texture is a sum of bilinearly up-sampled noise octaves (smooth shading) plus a few sharp-edged
rectangles and discs (the edges and corners that super-resolution and flow estimation learn from).
Motion is applied by sampling a larger canvas, so there are no borders to invent and the flow that
relates two frames is known exactly.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def _rand(g: torch.Generator, *shape: int) -> torch.Tensor:
    return torch.rand(shape, generator=g)


def random_texture(g: torch.Generator, h: int, w: int, channels: int = 3) -> torch.Tensor:
    """``(C, h, w)`` in [0, 1]: noise octaves stretched to full contrast + random sharp shapes.

    Fine octaves keep most of their amplitude (0.8 per octave) and the result is stretched to
    [0, 1] per channel: low-contrast, smooth textures give flow estimation almost no gradient to
    learn from (brightness differences under motion are what the network sees).
    """
    img = torch.zeros(channels, h, w)
    amp, cells = 1.0, 2
    while cells <= max(2, min(h, w) // 2):
        noise = _rand(g, 1, channels, cells + 1, cells + 1)
        img += amp * F.interpolate(noise, size=(h, w), mode="bicubic", align_corners=True)[0]
        amp *= 0.8
        cells *= 2
    lo = img.flatten(1).min(1).values.view(-1, 1, 1)
    hi = img.flatten(1).max(1).values.view(-1, 1, 1)
    img = (img - lo) / (hi - lo + 1e-8)
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    for _ in range(int(torch.randint(8, 24, (), generator=g))):
        colour = _rand(g, channels, 1, 1)
        cy, cx = float(_rand(g, 1)) * h, float(_rand(g, 1)) * w
        size = (0.03 + 0.2 * float(_rand(g, 1))) * min(h, w)
        if float(_rand(g, 1)) < 0.5:
            mask = ((yy - cy).abs() < size) & ((xx - cx).abs() < size * (0.3 + float(_rand(g, 1))))
        else:
            mask = (yy - cy) ** 2 + (xx - cx) ** 2 < size**2
        img = torch.where(mask, colour.expand_as(img), img)
    return img.clamp(0, 1)


def sample_canvas(canvas: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    """Bilinear samples of ``canvas`` (C, Hc, Wc) at pixel coordinates ``coords`` (2, h, w) = (x, y)."""
    hc, wc = canvas.shape[-2:]
    gx = coords[0] / (wc - 1) * 2 - 1
    gy = coords[1] / (hc - 1) * 2 - 1
    grid = torch.stack([gx, gy], -1)[None]
    return F.grid_sample(canvas[None], grid, mode="bilinear", padding_mode="border", align_corners=True)[0]


def pixel_grid(h: int, w: int) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    return torch.stack([xx, yy])


def random_affine_flow(
    g: torch.Generator,
    h: int,
    w: int,
    max_shift: float,
    max_rotation_deg: float = 5.0,
    max_zoom: float = 0.05,
    local: float = 0.0,
) -> torch.Tensor:
    """A smooth flow ``(2, h, w)``: translation + rotation + zoom about the centre, plus an optional
    smooth local field of amplitude ``local`` pixels (moving objects are not rigid)."""
    shift = (_rand(g, 2) * 2 - 1) * max_shift
    angle = math.radians(float(_rand(g, 1) * 2 - 1) * max_rotation_deg)
    zoom = 1.0 + float(_rand(g, 1) * 2 - 1) * max_zoom
    grid = pixel_grid(h, w)
    centre = torch.tensor([(w - 1) / 2, (h - 1) / 2]).view(2, 1, 1)
    rel = grid - centre
    cos, sin = math.cos(angle) * zoom, math.sin(angle) * zoom
    moved = torch.stack([cos * rel[0] - sin * rel[1], sin * rel[0] + cos * rel[1]])
    flow = moved - rel + shift.view(2, 1, 1)
    if local > 0:
        coarse = (_rand(g, 1, 2, 4, 4) * 2 - 1) * local
        flow = flow + F.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=True)[0]
    return flow


def flow_pair(
    g: torch.Generator, h: int, w: int, max_shift: float, **flow_kw
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(ref, supp, flow)`` with ``supp(x + flow(x)) == ref(x)`` exactly (bilinear sampling).

    ``flow`` is what SPyNet's ``forward(ref, supp)`` should return: ``flow_warp(supp, flow) == ref``
    wherever ``x + flow(x)`` stays inside ``supp``. ``supp`` is the centre of a larger texture and
    ``ref`` samples that same texture, so ``ref`` has real content even where the flow points
    outside ``supp``.
    """
    flow = random_affine_flow(g, h, w, max_shift, **flow_kw)
    margin = math.ceil(flow.abs().max().item()) + 2
    canvas = random_texture(g, h + 2 * margin, w + 2 * margin)
    supp = canvas[:, margin : margin + h, margin : margin + w]
    ref = sample_canvas(canvas, pixel_grid(h, w) + margin + flow)
    return ref, supp.contiguous(), flow


def moving_clip(g: torch.Generator, frames: int, h: int, w: int, max_speed: float = 2.0) -> torch.Tensor:
    """``(T, C, h, w)``: a texture seen by a camera translating with constant velocity and a slow zoom."""
    speed = (_rand(g, 2) * 2 - 1) * max_speed
    zoom = 1.0 + float(_rand(g, 1) * 2 - 1) * 0.01
    margin = math.ceil(max_speed * frames + 0.01 * frames * max(h, w)) + 2
    canvas = random_texture(g, h + 2 * margin, w + 2 * margin)
    grid = pixel_grid(h, w)
    centre = torch.tensor([(w - 1) / 2, (h - 1) / 2]).view(2, 1, 1)
    out = []
    for t in range(frames):
        coords = (grid - centre) * (zoom**t) + centre + margin + speed.view(2, 1, 1) * t
        out.append(sample_canvas(canvas, coords))
    return torch.stack(out).clamp(0, 1)


def layered_flow_pair(
    g: torch.Generator, h: int, w: int, max_shift: float, layers: int = 4, **flow_kw
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Like :func:`flow_pair`, with ``layers - 1`` textured shapes moving independently over the
    background (Flying-Chairs style): many different motions per image, so every step supervises
    local estimation rather than one global translation.

    Every layer ``i`` has a texture and a mask in ``supp`` coordinates and its own smooth flow
    ``F_i``; in ``ref`` it covers ``x`` where its mask at ``x + F_i(x)`` is set, and the top-most
    covering layer gives both the colour and the flow. The flow is exact; at occlusions (a pixel of
    ``ref`` hidden in ``supp``) ``flow_warp(supp, flow)`` differs from ``ref``, as in real video.
    """
    grid = pixel_grid(h, w)
    flow = random_affine_flow(g, h, w, max_shift, **flow_kw)
    margin = math.ceil(flow.abs().max().item()) + 2
    canvas = random_texture(g, h + 2 * margin, w + 2 * margin)
    supp = canvas[:, margin : margin + h, margin : margin + w].clone()
    ref = sample_canvas(canvas, grid + margin + flow)
    for _ in range(layers - 1):
        f_i = random_affine_flow(g, h, w, max_shift, **flow_kw)
        tex = random_texture(g, h, w)
        # a soft-edged blob mask (an ellipse), sampled bilinearly so it moves with sub-pixel accuracy
        cy, cx = float(_rand(g, 1)) * h, float(_rand(g, 1)) * w
        ry, rx = (0.1 + 0.25 * _rand(g, 2)) * min(h, w)
        mask = ((((grid[1] - cy) / ry) ** 2 + ((grid[0] - cx) / rx) ** 2) < 1).float()[None]
        supp = torch.where(mask > 0.5, tex, supp)
        covered = sample_canvas(mask, grid + f_i)
        inside = ((grid + f_i) >= 0).all(0) & ((grid[0] + f_i[0]) <= w - 1) & ((grid[1] + f_i[1]) <= h - 1)
        top = (covered > 0.5) & inside[None]
        ref = torch.where(top, sample_canvas(tex, grid + f_i), ref)
        flow = torch.where(top, f_i, flow)
    return ref, supp.contiguous(), flow
