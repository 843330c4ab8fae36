"""High-resolution still images for the corpus's non-camera content kinds, composed from Debian
package material; :mod:`freqvsr.data.corpus` then moves the synthetic camera over them
(:func:`~freqvsr.data.camera_motion.synthetic_clip`), so they become clips with exact flow.

* **animation** -- vector clip art (``openclipart-svg``) rendered with resvg (PyPI ``resvg-py``: a
  self-contained wheel, no compiler, no system library) at 300-1400 px and laid onto a flat or
  gradient background: flat colours, hard edges, gradients, as in cartoons.
* **text** -- screen-recording-like pages drawn with Pillow and the DejaVu fonts
  (``fonts-dejavu-core``): a code editor (opencv-doc's Python/C++ samples, keyword colouring, line
  numbers), a document (wrapped paragraphs of the packages' copyright texts and docstrings), an
  application window (title/menu bar, sidebar, table, buttons). Text is drawn at 1:1 pixels.
* **game** -- 2D game art (``pingus-data``, ``frozen-bubble-data``): an opaque background image
  tiled over the canvas, terrain pieces and sprites with transparency scattered over it, all at an
  integer pixel scale (nearest neighbour, as pixel-art games are shown).

Every composer is a pure function of its inputs and a ``numpy.random.Generator`` and returns the
image ``(H, W, 3)`` uint8 and a JSON-able recipe naming the parts it used. Text rendering uses
Pillow's basic layout engine (no raqm), so the pixels do not depend on optional system libraries.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from freqvsr.errors import InputError, MissingDependencyError

__all__ = [
    "ANIMATION_ROOT",
    "FONT_ROOT",
    "GAME_ROOTS",
    "TextParts",
    "compose_animation",
    "compose_game",
    "compose_text",
    "find_animation_parts",
    "find_game_parts",
    "find_text_parts",
    "render_svg",
]

ANIMATION_ROOT = "usr/share/openclipart/svg"
FONT_ROOT = "usr/share/fonts/truetype/dejavu"
GAME_ROOTS = ("usr/share/games/pingus/data/images", "usr/share/games/frozen-bubble/gfx")
CODE_ROOT = "usr/share/doc/opencv-doc/examples"
MAX_SVG_BYTES = 400_000  # larger clip art renders slowly (complex paths, filters) and adds little

# Canvas sizes (H, W): large enough for a 360x640 clip with the default motion at up to ~2x
# down-scaling (animation, game); text pages are rendered at 1:1 and barely down-scaled.
ANIMATION_CANVAS = (1152, 2048)
GAME_CANVAS = (1080, 1920)
TEXT_CANVAS = (1200, 1600)


# ---------------------------------------------------------------------------------------------------
# Finding the parts in an unpacked package tree
# ---------------------------------------------------------------------------------------------------


def find_animation_parts(staging) -> list[Path]:
    """Usable SVG files of openclipart-svg: small enough, no embedded bitmaps, no text (text would
    render with whatever fonts the machine has)."""
    root = Path(staging) / ANIMATION_ROOT
    out = []
    for p in sorted(root.rglob("*.svg")):
        if p.is_symlink() or p.stat().st_size > MAX_SVG_BYTES:
            continue
        head = p.read_bytes()
        if b"<image" in head or b"<text" in head or b"<flowRoot" in head:
            continue
        out.append(p)
    return out


def find_game_parts(staging) -> tuple[list[Path], list[Path]]:
    """(backgrounds, sprites): opaque images with both sides >= 200 px, and images with
    transparency whose longer side is 12..400 px, from the game packages (headers only)."""
    from PIL import Image

    backgrounds, sprites = [], []
    for rel in GAME_ROOTS:
        root = Path(staging) / rel
        for p in sorted(root.rglob("*")):
            if p.suffix.lower() not in (".png", ".jpg", ".jpeg") or "font" in p.name.lower() or p.is_symlink():
                continue
            try:
                with Image.open(p) as im:
                    (w, h), mode, info = im.size, im.mode, im.info
            except (OSError, ValueError):
                continue
            alpha = mode in ("RGBA", "LA", "PA") or "transparency" in info
            if not alpha and min(w, h) >= 200:
                backgrounds.append(p)
            elif alpha and 12 <= max(w, h) <= 400:
                sprites.append(p)
    return backgrounds, sprites


class TextParts:
    """What the text composer draws with: ``code`` and ``prose`` (lists of texts, each with the file
    it came from) and ``font(style, size)`` -> a Pillow font, style in ``sans``, ``sans-bold``,
    ``serif``, ``serif-bold``, ``mono``, ``mono-bold``."""

    def __init__(
        self, code: Sequence[tuple[str, str]], prose: Sequence[tuple[str, str]], font: Callable[[str, int], Any]
    ):
        if not code or not prose:
            raise InputError("text content needs code and prose texts (opencv-doc examples, copyright files)")
        self.code, self.prose, self.font = list(code), list(prose), font
        self.words = sorted({w for _, t in self.prose for w in re.findall(r"[A-Za-z][A-Za-z-]{2,14}", t)})


_FONT_FILES = {
    "sans": "DejaVuSans.ttf",
    "sans-bold": "DejaVuSans-Bold.ttf",
    "serif": "DejaVuSerif.ttf",
    "serif-bold": "DejaVuSerif-Bold.ttf",
    "mono": "DejaVuSansMono.ttf",
    "mono-bold": "DejaVuSansMono-Bold.ttf",
}


def dejavu_fonts(folder) -> Callable[[str, int], Any]:
    """``font(style, size)`` from the DejaVu TrueType files in ``folder`` (fonts-dejavu-core)."""
    from PIL import ImageFont

    folder = Path(folder)
    missing = [f for f in _FONT_FILES.values() if not (folder / f).is_file()]
    if missing:
        raise InputError(f"{folder}: DejaVu fonts missing ({', '.join(missing)})")
    cache: dict[tuple[str, int], Any] = {}

    def font(style: str, size: int):
        key = (style, size)
        if key not in cache:
            cache[key] = ImageFont.truetype(
                str(folder / _FONT_FILES[style]), size, layout_engine=ImageFont.Layout.BASIC
            )
        return cache[key]

    return font


def find_text_parts(staging, font: Callable[[str, int], Any] | None = None) -> TextParts:
    """Code: opencv-doc's Python and C++ samples; prose: the docstrings of those samples and every
    package's ``usr/share/doc/*/copyright``; fonts: fonts-dejavu-core (unless ``font`` is given)."""
    staging = Path(staging)
    code, prose = [], []
    examples = staging / CODE_ROOT
    for p in sorted(examples.glob("python/*.py")) + sorted(examples.glob("cpp/*.cpp")):
        text = p.read_text(errors="replace")
        code.append((p.relative_to(staging).as_posix(), text))
        doc = re.search(r"'''(.*?)'''|\"\"\"(.*?)\"\"\"", text, re.S)
        if doc and len(doc.group(doc.lastindex)) > 200:
            prose.append((p.relative_to(staging).as_posix(), doc.group(doc.lastindex)))
    for p in sorted((staging / "usr/share/doc").glob("*/copyright")):
        prose.append((p.relative_to(staging).as_posix(), p.read_text(errors="replace")))
    return TextParts(code, prose, font or dejavu_fonts(staging / FONT_ROOT))


# ---------------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------------

_UNITS = {"": 1.0, "px": 1.0, "pt": 4 / 3, "pc": 16.0, "mm": 96 / 25.4, "cm": 96 / 2.54, "in": 96.0}
_SVG_ROOT = re.compile(r"<svg\b[^>]*>", re.S)


def _svg_attr(tag: str, name: str) -> str | None:
    m = re.search(rf"\s{name}\s*=\s*[\"']([^\"']*)[\"']", tag)
    return m.group(1).strip() if m else None


def _svg_length(value: str | None) -> float | None:
    m = re.fullmatch(r"([0-9.eE+-]+)\s*([a-z]*)", value or "")
    if not m or m.group(2) not in _UNITS:
        return None
    try:
        x = float(m.group(1)) * _UNITS[m.group(2)]
    except ValueError:
        return None
    return x if x > 0 else None


def _svg_at_size(text: str, longer: int) -> tuple[str, tuple[int, int]]:
    """Rewrite the root element so the drawing renders with its longer side ``longer`` pixels.
    (resvg-py 0.5 refuses sizes in ``pt``/``mm`` without a viewBox, common in openclipart: give
    every file an explicit viewBox in user units and a pixel width/height.)"""
    m = _SVG_ROOT.search(text)
    if not m:
        raise ValueError("no <svg> element")
    tag = m.group(0)
    view_box = _svg_attr(tag, "viewBox")
    w, h = _svg_length(_svg_attr(tag, "width")), _svg_length(_svg_attr(tag, "height"))
    if view_box:
        nums = [float(v) for v in re.split(r"[\s,]+", view_box) if v]
        if len(nums) != 4 or nums[2] <= 0 or nums[3] <= 0:
            raise ValueError(f"bad viewBox {view_box!r}")
        if w is None or h is None:
            w, h = nums[2], nums[3]
    elif w is None or h is None:
        raise ValueError("no size and no viewBox")
    else:
        view_box = f"0 0 {w:g} {h:g}"  # no viewBox: one user unit is one CSS pixel
    s = longer / max(w, h)
    size = max(1, round(w * s)), max(1, round(h * s))
    bare = re.sub(r"\s(width|height|viewBox)\s*=\s*(\"[^\"]*\"|'[^']*')", "", tag)
    close = "/>" if bare.endswith("/>") else ">"
    new = bare[: -len(close)].rstrip() + f' width="{size[0]}" height="{size[1]}" viewBox="{view_box}"' + close
    return text[: m.start()] + new + text[m.end() :], size


def render_svg(path, longer: int) -> np.ndarray:
    """Render an SVG file with its longer side ``longer`` px: ``(H, W, 4)`` uint8 RGBA
    (straight alpha). ValueError for a file resvg cannot draw."""
    try:
        import resvg_py
    except ImportError:
        raise MissingDependencyError(
            "the animation content kind renders SVG with resvg: pip install resvg-py (or pip install 'freqvsr[corpus]')"
        ) from None
    from PIL import Image

    text, size = _svg_at_size(Path(path).read_text(encoding="utf-8", errors="replace"), longer)
    png = resvg_py.svg_to_bytes(svg_string=text, skip_system_fonts=True)
    with Image.open(io.BytesIO(bytes(png))) as im:
        rgba = np.asarray(im.convert("RGBA")).copy()
    if rgba.shape[1::-1] != size:
        raise ValueError(f"rendered {rgba.shape[1]}x{rgba.shape[0]}, asked for {size[0]}x{size[1]}")
    return rgba


def _paste(canvas: np.ndarray, rgba: np.ndarray, x: int, y: int) -> None:
    """Alpha-composite ``rgba`` onto the float RGB ``canvas`` (in place) at top-left (x, y); clipped."""
    H, W = canvas.shape[:2]
    h, w = rgba.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, W), min(y + h, H)
    if x0 >= x1 or y0 >= y1:
        return
    part = rgba[y0 - y : y1 - y, x0 - x : x1 - x].astype(np.float32)
    a = part[..., 3:4] / 255.0
    canvas[y0:y1, x0:x1] = canvas[y0:y1, x0:x1] * (1 - a) + part[..., :3] * a


def _colour(rng: np.random.Generator, lo: int = 0, hi: int = 256) -> np.ndarray:
    return rng.integers(lo, hi, 3).astype(np.float32)


def _to_u8(canvas: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(canvas), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------------------------------
# Animation
# ---------------------------------------------------------------------------------------------------


def compose_animation(
    svgs: Sequence[Path],
    rng: np.random.Generator,
    size: tuple[int, int] = ANIMATION_CANVAS,
    count: tuple[int, int] = (8, 14),
    root: Path | None = None,
) -> tuple[np.ndarray, dict]:
    """Clip art on a flat or two-colour gradient background: one large drawing (55-85 % of the
    canvas height), then more (20-50 %) up to ``count`` in all, at random places. Files that fail to render or
    are nearly empty are replaced by other draws."""
    if not svgs:
        raise InputError("no SVG clip art to compose animation frames from")
    H, W = size
    c0, c1 = _colour(rng), _colour(rng)
    if rng.random() < 0.5:
        c1 = c0
    t = np.linspace(0, 1, H, dtype=np.float32)[:, None, None]
    canvas = np.broadcast_to(c0 * (1 - t) + c1 * t, (H, W, 3)).copy()
    n = int(rng.integers(count[0], count[1] + 1))
    used, attempts = [], 0
    while len(used) < n and attempts < 4 * n:
        attempts += 1
        path = svgs[int(rng.integers(len(svgs)))]
        frac = rng.uniform(0.55, 0.85) if not used else rng.uniform(0.2, 0.5)
        longer = int(H * frac)
        try:
            art = render_svg(path, longer)
        except ValueError:
            continue
        if (art[..., 3] > 0).mean() < 0.05:
            continue
        h, w = art.shape[:2]
        x, y = int(rng.integers(-w // 4, W - 3 * w // 4)), int(rng.integers(-h // 4, H - 3 * h // 4))
        _paste(canvas, art, x, y)
        used.append({"file": path.relative_to(root).as_posix() if root else path.name, "px": longer, "at": [x, y]})
    if not used:
        raise InputError(f"none of {attempts} clip-art files rendered")
    return _to_u8(canvas), {"layout": "clip art", "background": [c0.tolist(), c1.tolist()], "parts": used}


# ---------------------------------------------------------------------------------------------------
# Game
# ---------------------------------------------------------------------------------------------------


def _load_rgba(path: Path, scale: int) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        im = im.convert("RGBA")
        if scale > 1:
            im = im.resize((im.width * scale, im.height * scale), Image.Resampling.NEAREST)
        return np.asarray(im).copy()


def compose_game(
    backgrounds: Sequence[Path],
    sprites: Sequence[Path],
    rng: np.random.Generator,
    size: tuple[int, int] = GAME_CANVAS,
    root: Path | None = None,
) -> tuple[np.ndarray, dict]:
    """A 2D game scene at integer pixel scale 1-2: a background image tiled over the canvas, then
    40-90 sprites / terrain pieces, larger ones first, more of them towards the bottom (the ground)."""
    if not backgrounds or not sprites:
        raise InputError("game content needs background images and sprites")
    H, W = size
    scale = int(rng.integers(1, 3))
    name = lambda p: p.relative_to(root).as_posix() if root else p.name  # noqa: E731
    bg_path = backgrounds[int(rng.integers(len(backgrounds)))]
    bg = _load_rgba(bg_path, scale)[..., :3].astype(np.float32)
    reps = (-(-H // bg.shape[0]), -(-W // bg.shape[1]), 1)
    oy, ox = int(rng.integers(bg.shape[0])), int(rng.integers(bg.shape[1]))
    canvas = np.tile(bg, (reps[0] + 1, reps[1] + 1, 1))[oy : oy + H, ox : ox + W].copy()
    n = int(rng.integers(40, 91))
    picks = [sprites[int(i)] for i in rng.integers(len(sprites), size=n)]
    arts = [(p, _load_rgba(p, scale)) for p in picks]
    arts.sort(key=lambda pa: -pa[1].shape[0] * pa[1].shape[1])  # big pieces behind small ones
    used = []
    for p, art in arts:
        h, w = art.shape[:2]
        x = int(rng.integers(-w // 2, W - w // 2))
        y = int(H * rng.beta(2.0, 1.2)) - h // 2  # more towards the bottom
        _paste(canvas, art, x, y)
        used.append({"file": name(p), "at": [x, y]})
    return _to_u8(canvas), {"layout": "2d scene", "pixel_scale": scale, "background": name(bg_path), "parts": used}


# ---------------------------------------------------------------------------------------------------
# Text
# ---------------------------------------------------------------------------------------------------

_KEYWORDS = frozenset(
    "and as assert break class continue def del elif else except False finally for from global if import in "
    "is lambda None not or pass raise return True try while with yield auto bool case char const double enum "
    "float int long namespace new private public return short signed sizeof static struct switch template this "
    "typedef unsigned using virtual void include define std cv Mat vector string".split()
)
_TOKENS = re.compile(r"(#include|//.*|#.*|\"[^\"]*\"|'[^']*'|\b\d+(?:\.\d+)?\b|[A-Za-z_]\w*|\s+|.)")
_PALETTES = (  # background, text, keyword, string, comment, number, gutter bg, gutter text, chrome
    ("#1e1e1e", "#d4d4d4", "#569cd6", "#ce9178", "#6a9955", "#b5cea8", "#252526", "#858585", "#333333"),
    ("#ffffff", "#1f1f1f", "#0000ff", "#a31515", "#008000", "#098658", "#f3f3f3", "#237893", "#dddddd"),
    ("#002b36", "#93a1a1", "#859900", "#2aa198", "#586e75", "#d33682", "#073642", "#586e75", "#073642"),
    ("#fdf6e3", "#586e75", "#268bd2", "#2aa198", "#93a1a1", "#cb4b16", "#eee8d5", "#93a1a1", "#eee8d5"),
)


def _wrap(text: str, font, width: float) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        trial = f"{line} {word}" if line else word
        if font.getlength(trial) <= width or not line:
            line = trial
        else:
            lines.append(line)
            line = word
    if line:
        lines.append(line)
    return lines


def _code_page(draw, parts: TextParts, rng, size, recipe) -> None:
    """An editor split into panes about 800 px wide (code lines are short: one pane over a wide
    page would leave its right half empty), each with tabs, line numbers and coloured tokens."""
    H, W = size
    bg, fg, kw, st, cm, num, gut_bg, gut_fg, chrome = _PALETTES[int(rng.integers(len(_PALETTES)))]
    px = int(rng.integers(13, 19))
    font, bold = parts.font("mono", px), parts.font("mono-bold", px)
    ui = parts.font("sans", px)
    line_h = int(px * rng.uniform(1.3, 1.6))
    tab_h = int(line_h * 1.8)
    colours = {"kw": kw, "str": st, "com": cm, "num": num}
    draw.rectangle([0, 0, W, H], fill=bg)
    panes = max(1, round(W / 800))
    pane_w = W // panes
    files = []
    for pane in range(panes):
        x0, x1 = pane * pane_w, W if pane == panes - 1 else (pane + 1) * pane_w
        name, text = parts.code[int(rng.integers(len(parts.code)))]
        lines = text.expandtabs(4).splitlines() or [""]
        first = int(rng.integers(max(1, len(lines) - 20)))
        files.append({"file": name, "first_line": first + 1})
        draw.rectangle([x0, 0, x1, tab_h], fill=chrome)
        x = x0 + 8
        for k in range(int(rng.integers(1, 4))):  # editor tabs: this file and others
            label = Path(parts.code[int(rng.integers(len(parts.code)))][0] if k else name).name
            w = int(ui.getlength(label)) + 24
            if x + w > x1:
                break
            draw.rectangle([x, 4, x + w, tab_h], fill=bg if k == 0 else gut_bg)
            draw.text((x + 12, (tab_h - px) // 2), label, font=ui, fill=fg if k == 0 else gut_fg)
            x += w + 2
        gutter = x0 + int(font.getlength("00000")) + 12
        draw.rectangle([x0, tab_h, gutter, H], fill=gut_bg)
        if pane:
            draw.line([x0, 0, x0, H], fill=chrome, width=3)
        y, i = tab_h + 6, first
        while y + line_h < H - tab_h:
            draw.text((gutter - 6, y), str(i + 1), font=font, fill=gut_fg, anchor="ra")
            x = gutter + 10
            for tok in _TOKENS.findall(lines[i % len(lines)]):
                if x + font.getlength(tok) > x1 - 4:
                    break
                if tok.startswith(("//", "#")) and not tok.startswith("#include"):
                    kind = "com"
                elif tok[:1] in "\"'":
                    kind = "str"
                elif tok[:1].isdigit():
                    kind = "num"
                elif tok in _KEYWORDS or tok == "#include":
                    kind = "kw"
                else:
                    kind = None
                if not tok.isspace():
                    draw.text((x, y), tok, font=bold if kind == "kw" and px > 15 else font, fill=colours.get(kind, fg))
                x += font.getlength(tok)
            y += line_h
            i += 1
    draw.rectangle([0, H - tab_h, W, H], fill=chrome)  # status bar
    draw.text(
        (10, H - tab_h + (tab_h - px) // 2),
        f"Ln {files[0]['first_line']}, Col 1   UTF-8   {Path(files[0]['file']).suffix[1:]}",
        font=ui,
        fill=fg,
    )
    recipe.update(layout="code", panes=files, font_px=px)


def _document_page(draw, parts: TextParts, rng, size, recipe) -> None:
    H, W = size
    serif = rng.random() < 0.5
    px = int(rng.integers(15, 23))
    body = parts.font("serif" if serif else "sans", px)
    head = parts.font("serif-bold" if serif else "sans-bold", int(px * 1.5))
    paper = ("#ffffff", "#fbf8f0", "#f4f4f4")[int(rng.integers(3))]
    ink = ("#111111", "#222222", "#303846")[int(rng.integers(3))]
    draw.rectangle([0, 0, W, H], fill="#d0d0d0" if rng.random() < 0.5 else paper)
    margin = int(W * rng.uniform(0.06, 0.18))
    draw.rectangle([margin // 2, 0, W - margin // 2, H], fill=paper)
    first = int(rng.integers(len(parts.prose)))
    # The chosen text, then the next ones: a page never repeats a short text.
    paragraphs = [
        (f, p) for f, t in parts.prose[first:] + parts.prose[:first] for p in re.split(r"\n\s*\n", t) if p.strip()
    ]
    name = paragraphs[0][0]
    y, k, line_h = int(px * 2), 0, int(px * 1.45)
    while y < H and k < len(paragraphs):
        para = " ".join(paragraphs[k][1].split())
        k += 1
        if len(para) < 60 and not para.endswith("."):  # short line: a heading
            for line in _wrap(para, head, W - 2 * margin):
                draw.text((margin, y), line, font=head, fill=ink)
                y += int(px * 2.1)
            continue
        bullet = rng.random() < 0.15
        indent = int(px * 1.5) if bullet else 0
        for j, line in enumerate(_wrap(para, body, W - 2 * margin - indent)):
            if bullet and j == 0:
                draw.text((margin, y), "\u2022", font=body, fill=ink)
            draw.text((margin + indent, y), line, font=body, fill=ink)
            y += line_h
        y += int(px * rng.uniform(0.6, 1.2))
    recipe.update(layout="document", file=name, font="serif" if serif else "sans", font_px=px)


def _ui_page(draw, parts: TextParts, rng, size, recipe) -> None:
    H, W = size
    words = parts.words or ["item"]
    word = lambda: words[int(rng.integers(len(words)))]  # noqa: E731
    px = int(rng.integers(13, 18))
    font, bold = parts.font("sans", px), parts.font("sans-bold", px)
    accent = tuple(int(v) for v in rng.integers(30, 200, 3))
    dark = rng.random() < 0.3
    bg, fg, panel, line = (
        ("#2b2b2b", "#e6e6e6", "#3c3f41", "#555555") if dark else ("#ffffff", "#202020", "#f0f0f0", "#c8c8c8")
    )
    draw.rectangle([0, 0, W, H], fill=bg)
    bar = int(px * 2.4)
    draw.rectangle([0, 0, W, bar], fill=accent)
    draw.text((12, (bar - px) // 2), f"{word().capitalize()} {word()} - {word()}", font=bold, fill="#ffffff")
    draw.rectangle([0, bar, W, 2 * bar], fill=panel)
    x = 12
    for _ in range(int(rng.integers(4, 8))):  # menu bar
        label = word().capitalize()
        draw.text((x, bar + (bar - px) // 2), label, font=font, fill=fg)
        x += int(font.getlength(label)) + 24
    side = int(W * rng.uniform(0.16, 0.26))
    draw.rectangle([0, 2 * bar, side, H], fill=panel)
    y = 2 * bar + 12
    while y < H - bar:  # sidebar: icon + label
        colour = tuple(int(v) for v in rng.integers(40, 230, 3))
        draw.rounded_rectangle([12, y, 12 + px, y + px], radius=3, fill=colour)
        draw.text((20 + px, y), word().capitalize(), font=font, fill=fg)
        y += int(px * 2.0)
    cols = int(rng.integers(3, 7))
    x0, y0 = side + 16, 2 * bar + 16
    col_w = (W - x0 - 16) // cols
    row_h = int(px * 2.0)
    for c in range(cols):  # table header
        draw.text((x0 + c * col_w + 6, y0 + (row_h - px) // 2), word().capitalize(), font=bold, fill=fg)
    draw.line([x0, y0 + row_h, W - 16, y0 + row_h], fill=line, width=2)
    y, r = y0 + row_h, 0
    rows = int(rng.integers(12, 40))
    while y + row_h < H - 3 * bar and r < rows:
        if r % 2:
            draw.rectangle([x0, y, W - 16, y + row_h], fill=panel)
        for c in range(cols):
            kind = (r * 7 + c) % 4 if c else 0
            cell = (
                word()
                if kind in (0, 1)
                else f"{rng.integers(0, 10 ** int(rng.integers(1, 6))):,}"
                if kind == 2
                else f"2026-{int(rng.integers(1, 13)):02d}-{int(rng.integers(1, 29)):02d}"
            )
            draw.text((x0 + c * col_w + 6, y + (row_h - px) // 2), cell, font=font, fill=fg)
        y += row_h
        r += 1
    y += bar
    x = x0
    for _ in range(int(rng.integers(2, 5))):  # buttons
        label = word().capitalize()
        w = int(font.getlength(label)) + 3 * px
        draw.rounded_rectangle(
            [x, y, x + w, y + int(px * 2.2)], radius=px // 2, fill=accent if x == x0 else panel, outline=line
        )
        draw.text((x + 1.5 * px, y + int(px * 0.6)), label, font=font, fill="#ffffff" if x == x0 else fg)
        x += w + px
    recipe.update(layout="ui", font_px=px, dark=dark)


def compose_text(
    parts: TextParts, rng: np.random.Generator, size: tuple[int, int] = TEXT_CANVAS, layout: str | None = None
) -> tuple[np.ndarray, dict]:
    """A screen page: ``layout`` ``code``, ``document`` or ``ui`` (None = drawn at random)."""
    from PIL import Image, ImageDraw

    layouts = {"code": _code_page, "document": _document_page, "ui": _ui_page}
    layout = layout or ("code", "document", "ui")[int(rng.integers(3))]
    if layout not in layouts:
        raise ValueError(f"unknown text layout {layout!r}")
    H, W = size
    img = Image.new("RGB", (W, H), "white")
    recipe: dict[str, Any] = {}
    layouts[layout](ImageDraw.Draw(img), parts, rng, size, recipe)
    return np.asarray(img).copy(), recipe
