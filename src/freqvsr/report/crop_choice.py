"""Where to zoom: windows where a model beats a baseline (bicubic) against the ground truth.

:func:`gain_windows` is pure (numpy only) and deterministic. Per pixel it takes the squared
error of the baseline and of the model against the ground truth (mean over channels), box-sums
both over every ``size``×``size`` window on a ``stride`` grid (integral images: O(H·W) whatever
the window size) and scores a window by the *gain* ``mean(baseline error²) - mean(model error²)``:
large where the model repairs what the baseline gets wrong, which is what a viewer should see.

* Flat regions never count: a ground-truth pixel is *detailed* where the RMS luma gradient over
  its 3×3 neighbourhood exceeds ``flat_level`` (8-bit levels per pixel). Only detailed pixels
  contribute to the gain (a tone shift the model fixes on a flat wall is not what the zoom is
  for), and a window is a candidate only if at least ``min_coverage`` of its pixels are
  detailed (every window is, when none qualifies: a frame that flat has nothing better to show).
* Ties fall back to detail: among windows whose gain is within ``tie_tol`` of the best, the most
  detailed wins; when no window has a gain above ``tie_tol`` (the model is nowhere better, e.g.
  it *is* the baseline) windows are ranked by detail alone.
* Top-k: windows are taken greedily, each one the best among those that do not overlap the
  windows already taken; remaining ties go to the first window in raster order.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from freqvsr.functional.color import LUMA_BT601_FULL

__all__ = ["Window", "gain_windows"]


@dataclasses.dataclass(frozen=True)
class Window:
    """A chosen ``size``×``size`` window at row ``y``, column ``x``.

    ``gain``: squared error of the baseline minus that of the model, summed over the window's
    detailed pixels and divided by its area, in (8-bit value)² units, so positive means the
    model is closer to the ground truth; ``detail``: the ground truth's mean luma gradient
    energy there (same units); ``coverage``: the fraction of its pixels that are detailed;
    ``by``: ``"gain"`` or ``"detail"`` (the fallback), how it was chosen.
    """

    y: int
    x: int
    size: int
    gain: float
    detail: float
    coverage: float
    by: str

    def crop(self, img: np.ndarray) -> np.ndarray:
        return img[self.y : self.y + self.size, self.x : self.x + self.size]


def _as_float(img) -> np.ndarray:
    a = np.asarray(img)
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3:
        raise ValueError(f"expected an (H, W) or (H, W, C) image, got shape {a.shape}")
    a = a.astype(np.float64)
    if np.issubdtype(np.asarray(img).dtype, np.floating):
        a = a * 255.0  # floats are taken in [0, 1]; report everything in 8-bit units
    return a


def _luma(a: np.ndarray) -> np.ndarray:
    if a.shape[-1] == 3:
        return a @ np.array(LUMA_BT601_FULL)
    return a.mean(-1)


def _detail(gt: np.ndarray) -> np.ndarray:
    """Per-pixel gradient energy of the luma (forward differences, zero at the last row/column)."""
    y = _luma(gt)
    e = np.zeros_like(y)
    e[:, :-1] += np.diff(y, axis=1) ** 2
    e[:-1, :] += np.diff(y, axis=0) ** 2
    return e


def _box3(m: np.ndarray) -> np.ndarray:
    """3×3 mean with edge replication."""
    p = np.pad(m, 1, mode="edge")
    h, w = m.shape
    return sum(p[i : i + h, j : j + w] for i in range(3) for j in range(3)) / 9.0


def _origins(n: int, size: int, stride: int) -> np.ndarray:
    o = list(range(0, n - size + 1, stride))
    if o[-1] != n - size:
        o.append(n - size)  # the last window touches the border, so nothing is out of reach
    return np.array(o)


def _window_means(m: np.ndarray, ys: np.ndarray, xs: np.ndarray, size: int) -> np.ndarray:
    """Mean of ``m`` over the ``size``² windows with origins ``ys`` × ``xs`` (integral image)."""
    s = np.zeros((m.shape[0] + 1, m.shape[1] + 1))
    s[1:, 1:] = m.cumsum(0).cumsum(1)
    y0, x0 = ys[:, None], xs[None, :]
    y1, x1 = y0 + size, x0 + size
    return (s[y1, x1] - s[y0, x1] - s[y1, x0] + s[y0, x0]) / (size * size)


def gain_windows(
    baseline,
    model,
    gt,
    size: int,
    *,
    k: int = 1,
    stride: int | None = None,
    flat_level: float = 3.0,
    min_coverage: float = 0.5,
    tie_tol: float = 1e-3,
) -> list[Window]:
    """Up to ``k`` non-overlapping ``size``-pixel windows where ``model`` beats ``baseline`` most.

    ``baseline``, ``model``, ``gt``: images of the same (H, W[, C]) shape, uint8 or float in
    [0, 1] (numpy arrays or anything ``np.asarray`` takes, e.g. CPU torch tensors). ``size`` is
    clipped to the image; ``stride`` defaults to ``size // 8``. Returns the windows best first
    (fewer than ``k`` when no more fit without overlap). See the module docstring for the rules.
    """
    b, m, g = _as_float(baseline), _as_float(model), _as_float(gt)
    if not (b.shape == m.shape == g.shape):
        raise ValueError(f"shapes differ: baseline {b.shape}, model {m.shape}, gt {g.shape}")
    h, w = g.shape[:2]
    size = int(min(size, h, w))
    if size < 1 or k < 1:
        raise ValueError("size and k must be >= 1")
    stride = max(1, int(stride or size // 8))
    ys, xs = _origins(h, size, stride), _origins(w, size, stride)
    energy = _detail(g)
    detailed = _box3(energy) > flat_level**2
    err_b = ((b - g) ** 2).mean(-1)
    err_m = ((m - g) ** 2).mean(-1)
    gain = _window_means(np.where(detailed, err_b - err_m, 0.0), ys, xs, size)
    detail = _window_means(energy, ys, xs, size)
    coverage = _window_means(detailed.astype(np.float64), ys, xs, size)

    eligible = coverage >= min_coverage
    if not eligible.any():
        eligible[:] = True
    oy, ox = np.meshgrid(ys, xs, indexing="ij")
    chosen: list[Window] = []
    for _ in range(k):
        free = eligible.copy()
        for c in chosen:
            free &= ~((np.abs(oy - c.y) < size) & (np.abs(ox - c.x) < size))
        if not free.any():
            break
        best = gain[free].max()
        by = "gain" if best > tie_tol else "detail"
        pool = free & (gain >= best - tie_tol) if by == "gain" else free
        # Most detailed window of the pool; argmax takes the first in raster order on exact ties.
        i = int(np.argmax(np.where(pool, detail, -np.inf)))
        iy, ix = divmod(i, detail.shape[1])
        chosen.append(
            Window(
                int(ys[iy]), int(xs[ix]), size, float(gain[iy, ix]), float(detail[iy, ix]), float(coverage[iy, ix]), by
            )
        )
    return chosen
