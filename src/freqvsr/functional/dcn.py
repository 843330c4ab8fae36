"""Modulated deformable convolution (DCNv2) in plain PyTorch. Pure tensor maths.

Definition (Zhu et al., "Deformable ConvNets v2", CVPR 2019), with the tensor layout of mmcv's
``ModulatedDeformConv2d`` / ``modulated_deform_conv2d``, which ``torchvision.ops.deform_conv2d``
shares. For output pixel (oy, ox), kernel tap k = i*kw + j and deform group g::

    dy, dx = offset[:, 2 * (g*kh*kw + k)], offset[:, 2 * (g*kh*kw + k) + 1]     # (dy, dx) pairs
    y = oy*stride - pad + i*dilation + dy,   x = ox*stride - pad + j*dilation + dx
    column[c, k] = mask[:, g*kh*kw + k] * bilinear(input[:, c], y, x)          # c in group g
    out = conv weight  (x)  columns  + bias

* Offsets are **(dy, dx)** per tap, taps in row-major order, groups outermost (a flow in the
  usual (dx, dy) channel order must be flipped: ``flow.flip(1)``).
* ``bilinear`` uses pixel-centred coordinates (pixel (0, 0) is at y = x = 0, like
  ``grid_sample(align_corners=True)``) and counts every neighbour outside the image as 0, so a
  sample is 0 once y <= -1, y >= H, x <= -1 or x >= W.
* ``mask`` is used as given: the callers (BasicVSR++'s alignment, EDVR's DCN pack) pass
  ``sigmoid`` of their mask logits, as mmcv's ``ModulatedDeformConvPack`` does. ``mask=None``
  is DCNv1 (every tap weighted 1).
* Deform group g owns input channels ``[g*C/dg, (g+1)*C/dg)``; ``groups`` splits input and output
  channels as in ``conv2d``.

Implementations, chosen by ``backend=``:

``"grid_sample"`` (also ``"torch"``; the pure-PyTorch default)
    Per chunk of output rows: the sampling grid ``base + offset``, normalised for
    ``grid_sample(mode="bilinear", padding_mode="zeros", align_corners=True)``, which samples each
    deform group's ``C/dg`` channels (``(N*dg, C/dg, H, W)``) at all ``kh*kw`` taps at once; the
    mask multiplies the samples; ``conv2d(samples, weight, bias, stride=(kh, kw), groups=groups)``
    applies the weight. The samples are laid out as a ``(kh*rows, kw*Wo)`` image in which tap
    (i, j) of output (oy, ox) sits at (oy*kh + i, ox*kw + j), so that strided convolution is
    exactly the DCN's weighted sum, computed by the library's convolution kernel (oneDNN on CPU,
    cuDNN on CUDA), which is faster than a GEMM on the same columns. The sampling positions are
    rounded a few times in float32 (the normalisation, then grid_sample's un-normalisation):
    about 2x the error of one rounding, i.e. ~1e-5 px at 320 px wide (docs/recurrent-baselines.md
    has the measured errors). Coordinates and sampling stay in at least float32 under bf16/fp16
    inputs or autocast; the convolution runs in the input's dtype. Runs wherever autograd runs.
``"gather"``
    The exact-rounding reference implementation: the input is laid out once as a table of
    zero-padded 2x2 neighbourhoods (channels last), each sampling point fetches its neighbourhood
    with one ``index_select``, the four bilinear weights (mmcv's ``w1 = (1-ly)(1-lx)`` ... , times
    the mask) blend it in a batched ``(C/dg x 4) @ (4 x 1)`` product, and one GEMM per conv group
    applies the weight. The position is ``integer base + offset``, one rounding, as in mmcv's
    kernel. 4-6x slower than ``grid_sample`` on CPU (``benchmarks/dcn_speed.py``).
``"torchvision"``
    ``torchvision.ops.deform_conv2d`` (a compiled kernel: less memory, faster on CUDA).
``"auto"`` (default)
    On CUDA, torchvision when it imports *and* a probe on the same device and dtype reproduces
    the gather backend (checked once per device type and dtype, see :func:`dcn_backend`);
    otherwise, and always on CPU, grid_sample: torchvision 0.29's CPU kernel was 3.4-3.7x slower
    than grid_sample on every layer shape of ``benchmarks/dcn_speed.py`` (1 thread, 64x64 and
    180x320; docs/measurements.md). torchvision is never required.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import NamedTuple

import torch
import torch.nn.functional as F

# The gather backend processes output rows in chunks so that the gathered neighbourhoods of one
# chunk hold at most this many elements (4 * c_in * kh * kw * rows * width); 2**24 float32 = 64 MiB.
_MAX_CHUNK_ELEMENTS = 1 << 24

_TORCHVISION_STATUS: dict[tuple[str, torch.dtype], tuple[bool, str]] = {}


def _pair(v: int | tuple[int, int]) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


def output_size(
    size: tuple[int, int],
    kernel_size: tuple[int, int],
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
) -> tuple[int, int]:
    """Spatial output size of a (deformable) convolution, as ``conv2d`` computes it."""
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(dilation)
    kh, kw = kernel_size
    return (size[0] + 2 * ph - dh * (kh - 1) - 1) // sh + 1, (size[1] + 2 * pw - dw * (kw - 1) - 1) // sw + 1


class _Geometry(NamedTuple):
    """Sizes of one deformable convolution, read from its tensors (both pure-PyTorch backends)."""

    n: int  # batch
    c: int  # input channels
    h: int
    w: int
    cout: int
    cin_g: int  # input channels per conv group
    kh: int
    kw: int
    k: int  # taps, kh * kw
    ho: int
    wo: int
    dg: int  # deform groups
    cg: int  # input channels per deform group


def _geometry(x: torch.Tensor, offset: torch.Tensor, weight: torch.Tensor) -> _Geometry:
    n, c, h, w = x.shape
    cout, cin_g, kh, kw = weight.shape
    k = kh * kw
    ho, wo = offset.shape[-2:]
    dg = offset.shape[1] // (2 * k)
    return _Geometry(n, c, h, w, cout, cin_g, kh, kw, k, ho, wo, dg, c // dg)


def _row_chunks(rows: int, rows_per_chunk: int) -> Iterator[tuple[int, int]]:
    """``(first, end)`` of consecutive chunks of output rows."""
    for r0 in range(0, rows, rows_per_chunk):
        yield r0, min(rows, r0 + rows_per_chunk)


def _neighbour_table(x: torch.Tensor, deform_groups: int) -> torch.Tensor:
    """Every 2x2 neighbourhood of the zero-padded input, channels last, one row per top-left corner.

    ``x`` ``(N, C, H, W)`` is padded with 2 zero rows/columns on top/left and 1 on bottom/right;
    row ``((n*dg + g)*(H+2) + r)*(W+2) + s`` holds, for each of the ``C/dg`` channels of deform
    group g, ``[P[r, s], P[r, s+1], P[r+1, s], P[r+1, s+1]]`` of the padded image P (``(C/dg, 4)``).
    Out-of-image neighbours are therefore read as exact zeros, and (r, s) = (0, 0) is an all-zero neighbourhood.
    """
    n, c, h, w = x.shape
    cg = c // deform_groups
    p = F.pad(x, (2, 1, 2, 1)).reshape(n, deform_groups, cg, h + 3, w + 3).permute(0, 1, 3, 4, 2)
    quad = torch.stack((p[:, :, :-1, :-1], p[:, :, :-1, 1:], p[:, :, 1:, :-1], p[:, :, 1:, 1:]), dim=-1)
    return quad.reshape(n * deform_groups * (h + 2) * (w + 2), 4 * cg)


def _sample(
    table: torch.Tensor,
    size: tuple[int, int],
    offset: torch.Tensor,
    mask: torch.Tensor | None,
    kernel_size: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
    row_start: int,
) -> torch.Tensor:
    """DCNv2 columns for the output rows ``row_start .. row_start+rows-1``: ``(N, rows*Wo, dg, K, C/dg)``.

    ``offset`` ``(N, 2*dg*K, rows, Wo)``, ``mask`` ``(N, dg*K, rows, Wo)`` (K = kh*kw).
    """
    h, w = size
    kh, kw = kernel_size
    k = kh * kw
    n, _, rows, wo = offset.shape
    dg = offset.shape[1] // (2 * k)
    cg = table.shape[1] // 4
    dev = offset.device
    # Coordinates in >= float32 even for half inputs: bf16 cannot hold "317.25".
    cdt = torch.promote_types(offset.dtype, torch.float32)
    # (N, rows, Wo, dg, K, 2): one row of the column matrix per output pixel, taps innermost
    off = offset.to(cdt).reshape(n, dg, k, 2, rows, wo).permute(0, 4, 5, 1, 2, 3)
    tap_y = (torch.arange(kh, device=dev) * dilation[0]).repeat_interleave(kw)
    tap_x = (torch.arange(kw, device=dev) * dilation[1]).repeat(kh)
    out_y = torch.arange(row_start, row_start + rows, device=dev) * stride[0] - padding[0]
    out_x = torch.arange(wo, device=dev) * stride[1] - padding[1]
    # Integer base position first, then + offset: one float rounding, as in mmcv's kernel.
    py = (out_y.view(rows, 1, 1, 1) + tap_y).to(cdt) + off[..., 0]  # (N, rows, Wo, dg, K)
    px = (out_x.view(1, wo, 1, 1) + tap_x).to(cdt) + off[..., 1]
    y0, x0 = py.floor(), px.floor()
    ly, lx = py - y0, px - x0
    hy, hx = 1 - ly, 1 - lx
    # A sample with y0 in [-1, H-1] and x0 in [-1, W-1] has its 2x2 neighbourhood inside the
    # padded table (top-left at (y0+2, x0+2)); any other sample is 0 and reads neighbourhood (0, 0).
    inside = (y0 >= -1) & (y0 <= h - 1) & (x0 >= -1) & (x0 <= w - 1)
    local = torch.where(inside, (y0 + 2) * (w + 2) + (x0 + 2), torch.zeros((), dtype=cdt, device=dev)).long()
    group_base = torch.arange(n, device=dev).view(n, 1, 1, 1, 1) * dg + torch.arange(dg, device=dev).view(
        1, 1, 1, dg, 1
    )
    index = local + group_base * ((h + 2) * (w + 2))
    quad = table.index_select(0, index.reshape(-1)).view(-1, cg, 4)

    weights = torch.stack((hy * hx, hy * lx, ly * hx, ly * lx), dim=-1)  # mmcv's w1..w4
    if mask is not None:
        # The mask multiplies the bilinear weights (mmcv multiplies the blended value: same maths,
        # a 4x smaller tensor to scale; the rounding differs by ~1 ulp).
        weights = weights * mask.to(cdt).reshape(n, dg, k, rows, wo).permute(0, 3, 4, 1, 2).unsqueeze(-1)
    # The blend as a batch of (C/dg x 4) @ (4 x 1) products: one pass over the gathered values,
    # several times faster on CPU than four broadcast multiply-adds.
    cols = torch.matmul(quad, weights.reshape(-1, 4, 1).to(table.dtype))
    return cols.view(n, rows * wo, dg, k, cg)


def _deform_conv2d_gather(
    x: torch.Tensor,
    offset: torch.Tensor,
    mask: torch.Tensor | None,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
    groups: int,
) -> torch.Tensor:
    n, c, h, w, cout, cin_g, kh, kw, k, ho, wo, dg, cg = _geometry(x, offset, weight)
    table = _neighbour_table(x, dg)
    if groups == 1:
        # Reorder the weight to the columns' (dg, K, C/dg) order instead of reordering the columns.
        w_mat = weight.reshape(cout, dg, cg, k).permute(1, 3, 2, 0).reshape(dg * k * cg, cout)
    else:
        w_mat = weight.reshape(groups, cout // groups, cin_g * k).transpose(1, 2)  # (G, C/G*K, cout/G)
    rows_per_chunk = max(1, _MAX_CHUNK_ELEMENTS // max(1, 4 * c * k * wo))
    outs = []
    for r0, r1 in _row_chunks(ho, rows_per_chunk):
        cols = _sample(
            table,
            (h, w),
            offset[:, :, r0:r1],
            None if mask is None else mask[:, :, r0:r1],
            (kh, kw),
            stride,
            padding,
            dilation,
            r0,
        )
        m = n * (r1 - r0) * wo
        if groups == 1:
            out = torch.matmul(cols.reshape(m, dg * k * cg), w_mat)  # (m, cout)
        else:
            cols = cols.reshape(m, dg, k, cg).permute(0, 1, 3, 2).reshape(m, groups, cin_g * k).transpose(0, 1)
            out = torch.bmm(cols, w_mat).transpose(0, 1).reshape(m, cout)
        outs.append(out.view(n, r1 - r0, wo, cout))
    out = outs[0] if len(outs) == 1 else torch.cat(outs, 1)
    out = out.permute(0, 3, 1, 2).contiguous()
    if bias is not None:
        out = out + bias.view(1, -1, 1, 1)
    return out


# The grid_sample backend processes output rows in chunks whose samples hold at most this many
# elements per CPU thread (n * c_in * kh * kw * rows * Wo; 2**19 float32 = 2 MiB), so that the
# sampling, the mask product and the convolution work on cache-resident data, and no block is
# big enough for glibc to mmap it afresh (a fresh mapping faults its pages in one at a time).
# Measured at 1 thread (2 shared cores): 2**18 .. 2**20 alike; one chunk per frame up to 2x
# slower at 180x320; tiling the width as well, or a channels-last input, no faster.
# Scaling by the thread count is not measured (no quiet multi-core machine). Other devices take
# big chunks: a GPU wants large kernels.
_GRID_CHUNK_ELEMENTS_CPU = 1 << 19
_GRID_CHUNK_ELEMENTS_OTHER = 1 << 26


def _deform_conv2d_grid_sample(
    x: torch.Tensor,
    offset: torch.Tensor,
    mask: torch.Tensor | None,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
    groups: int,
) -> torch.Tensor:
    """``grid_sample`` of every deform group at every tap, mask, one strided ``conv2d`` (module docstring)."""
    n, c, h, w, cout, cin_g, kh, kw, k, ho, wo, dg, cg = _geometry(x, offset, weight)
    dev = x.device
    # Sampling and coordinates in >= float32 (bf16 cannot hold "317.25"); the convolution in x's dtype.
    cdt = torch.promote_types(x.dtype, torch.float32)
    src = x.to(cdt)
    if h == 1 or w == 1:
        # align_corners=True normalises by (size - 1): give a 1-pixel axis a zero neighbour, which
        # changes nothing (a neighbour outside the image counts 0 either way).
        src = F.pad(src, (0, int(w == 1), 0, int(h == 1)))
    hp, wp = src.shape[-2:]
    src = src.reshape(n * dg, cg, hp, wp)
    sy, sx = (hp - 1) / 2, (wp - 1) / 2
    # grid = base / s - 1 + offset / s with s = (size-1)/2, which grid_sample(align_corners=True)
    # maps back to base + offset. The integer base is normalised in float64 and rounded once.
    hi = cdt if dev.type == "mps" else torch.float64  # MPS has no float64
    out_y = torch.arange(ho, device=dev) * stride[0] - padding[0]
    out_x = torch.arange(wo, device=dev) * stride[1] - padding[1]
    base_y = out_y.view(ho, 1) + torch.arange(kh, device=dev) * dilation[0]  # integer positions (Ho, kh)
    base_x = out_x.view(wo, 1) + torch.arange(kw, device=dev) * dilation[1]  # (Wo, kw)
    bny = (base_y.to(hi) / sy - 1).to(cdt).view(ho, kh, 1, 1)  # (Ho, kh, 1, 1)
    bnx = (base_x.to(hi) / sx - 1).to(cdt).view(wo, kw)  # (Wo, kw)
    if dev.type == "cpu":
        budget = _GRID_CHUNK_ELEMENTS_CPU * max(1, torch.get_num_threads())
    else:
        budget = _GRID_CHUNK_ELEMENTS_OTHER
    rows_per_chunk = max(1, budget // max(1, n * c * k * wo))
    grad = torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in (x, offset, mask))
    offset = offset.to(cdt).reshape(n, dg, kh, kw, 2, ho, wo)
    if mask is not None:
        mask = mask.to(cdt).reshape(n, dg, kh, kw, ho, wo)
    # A channels_last weight (the engine's CPU layout) would make conv2d return channels_last, and
    # convert the samples to it first: the samples are NCHW, and so is the output (as mmcv's).
    weight = weight.contiguous()
    outs = []
    for r0, r1 in _row_chunks(ho, rows_per_chunk):
        rows = r1 - r0
        # (N, dg, rows, kh, Wo, kw): the interleaved column image; x first in the grid's last dim
        off = offset[..., r0:r1, :].permute(0, 1, 5, 2, 6, 3, 4)
        gx = torch.add(bnx, off[..., 1], alpha=1 / sx)
        gy = torch.add(bny[r0:r1], off[..., 0], alpha=1 / sy)
        grid = torch.stack((gx, gy), -1).view(n * dg, rows * kh, wo * kw, 2)
        cols = F.grid_sample(src, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
        if mask is not None:  # cols: (N*dg, C/dg, rows*kh, Wo*kw)
            m = mask[..., r0:r1, :].permute(0, 1, 4, 2, 5, 3).reshape(n * dg, 1, rows * kh, wo * kw)
            cols = cols * m if grad else cols.mul_(m)
        cols = cols.view(n, c, rows * kh, wo * kw).to(x.dtype)
        outs.append(F.conv2d(cols, weight, bias, stride=(kh, kw), groups=groups))
    return outs[0] if len(outs) == 1 else torch.cat(outs, 2)


def _deform_conv2d_torchvision(
    x: torch.Tensor,
    offset: torch.Tensor,
    mask: torch.Tensor | None,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
    groups: int,
) -> torch.Tensor:
    from torchvision.ops import deform_conv2d  # optional accelerator; dcn_backend() checked it works

    out: torch.Tensor = deform_conv2d(
        x, offset, weight, bias, stride=stride, padding=padding, dilation=dilation, mask=mask
    )
    return out


def dcn_backend(device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> tuple[str, str]:
    """``("torchvision" | "grid_sample", reason)``: what ``backend="auto"`` uses on this device and dtype.

    On CPU always grid_sample (faster than torchvision's CPU kernel, module docstring). Elsewhere
    torchvision is used only if it imports, runs its op, and reproduces the gather backend on a
    probe with out-of-image and fractional offsets, two deform groups and two conv groups
    (max abs difference <= 1e-5 of an output of size ~1). The answer is cached per device type
    and dtype.
    """
    dev = torch.device(device)
    if dev.type == "cpu":
        return "grid_sample", "grid_sample on CPU (faster there than torchvision.ops.deform_conv2d)"
    key = (dev.type, dtype)
    if key not in _TORCHVISION_STATUS:
        _TORCHVISION_STATUS[key] = _probe_torchvision(dev, dtype)
    ok, reason = _TORCHVISION_STATUS[key]
    return ("torchvision" if ok else "grid_sample"), reason


def _probe_torchvision(dev: torch.device, dtype: torch.dtype) -> tuple[bool, str]:
    try:
        import torchvision.ops  # noqa: F401  (optional: only an accelerator, never required)
    except Exception as exc:  # ImportError, or a broken wheel (e.g. a CUDA build next to CPU torch)
        return False, f"torchvision does not import: {type(exc).__name__}: {exc}"
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 4, 6, 7, generator=g)
    weight = torch.randn(6, 2, 3, 3, generator=g) / 4
    bias = torch.randn(6, generator=g)
    offset = torch.randn(2, 2 * 2 * 9, 6, 7, generator=g) * 3
    mask = torch.rand(2, 2 * 9, 6, 7, generator=g)
    x, offset, mask, weight, bias = (t.to(dev, dtype) for t in (x, offset, mask, weight, bias))
    try:
        with torch.no_grad(), torch.autocast(dev.type, enabled=False):
            ref = _deform_conv2d_gather(x, offset, mask, weight, bias, (1, 1), (1, 1), (1, 1), 2)
            tv = _deform_conv2d_torchvision(x, offset, mask, weight, bias, (1, 1), (1, 1), (1, 1), 2)
    except Exception as exc:  # the op is missing for this device/dtype or its extension fails to load
        return False, f"torchvision.ops.deform_conv2d fails on {dev.type}/{dtype}: {type(exc).__name__}: {exc}"
    err = (ref.double() - tv.double()).abs().max().item()
    tol = 1e-5 if dtype in (torch.float32, torch.float64) else 5e-2
    if not math.isfinite(err) or err > tol:
        return False, f"torchvision.ops.deform_conv2d differs from the reference by {err:.2e} on {dev.type}/{dtype}"
    return True, f"torchvision.ops.deform_conv2d matches the reference ({err:.1e}) on {dev.type}/{dtype}"


def modulated_deform_conv2d(
    x: torch.Tensor,
    offset: torch.Tensor,
    mask: torch.Tensor | None,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
    groups: int = 1,
    deform_groups: int | None = None,
    backend: str = "auto",
) -> torch.Tensor:
    """DCNv2 of ``x`` ``(N, C, H, W)`` -> ``(N, C_out, Ho, Wo)``; see the module docstring.

    ``offset``: ``(N, 2*dg*kh*kw, Ho, Wo)`` as (dy, dx) pairs; ``mask``: ``(N, dg*kh*kw, Ho, Wo)``
    (already through a sigmoid) or None; ``weight``: ``(C_out, C/groups, kh, kw)``;
    ``deform_groups`` (dg) is inferred from ``offset`` when None. ``backend``: ``"auto"``,
    ``"grid_sample"`` (= ``"torch"``), ``"gather"`` or ``"torchvision"`` (module docstring).
    """
    stride, padding, dilation = _pair(stride), _pair(padding), _pair(dilation)
    n, c, h, w = x.shape
    cout, cin_g, kh, kw = weight.shape
    k = kh * kw
    if deform_groups is None:
        deform_groups = offset.shape[1] // (2 * k)
    ho, wo = output_size((h, w), (kh, kw), stride, padding, dilation)
    problems = []
    if c != cin_g * groups or cout % groups:
        problems.append(f"weight {tuple(weight.shape)} does not fit {c} input channels in {groups} group(s)")
    if deform_groups < 1 or c % deform_groups:
        problems.append(f"{c} input channels do not split into {deform_groups} deform groups")
    if tuple(offset.shape) != (n, 2 * deform_groups * k, ho, wo):
        problems.append(f"offset {tuple(offset.shape)} != {(n, 2 * deform_groups * k, ho, wo)}")
    if mask is not None and tuple(mask.shape) != (n, deform_groups * k, ho, wo):
        problems.append(f"mask {tuple(mask.shape)} != {(n, deform_groups * k, ho, wo)}")
    if problems:
        raise ValueError("modulated_deform_conv2d: " + "; ".join(problems))
    if backend == "auto":
        backend = dcn_backend(x.device, x.dtype)[0]
    if backend == "torchvision":
        return _deform_conv2d_torchvision(x, offset, mask, weight, bias, stride, padding, dilation, groups)
    if backend in ("grid_sample", "torch"):
        return _deform_conv2d_grid_sample(x, offset, mask, weight, bias, stride, padding, dilation, groups)
    if backend == "gather":
        return _deform_conv2d_gather(x, offset, mask, weight, bias, stride, padding, dilation, groups)
    raise ValueError(f"backend must be 'auto', 'grid_sample' (= 'torch'), 'gather' or 'torchvision', got {backend!r}")


def deform_conv_flops(batch: int, weight_shape: tuple[int, ...], out_hw: tuple[int, int]) -> int:
    """Multiply-adds x 2 of the convolution part (same as a dense conv of that size; the bilinear
    sampling, ~11 ops per column entry, is not included)."""
    cout, cin_g, kh, kw = weight_shape
    return 2 * batch * cout * cin_g * kh * kw * out_hw[0] * out_hw[1]


__all__ = ["dcn_backend", "deform_conv_flops", "modulated_deform_conv2d", "output_size"]
