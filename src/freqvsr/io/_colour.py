"""Colour metadata helpers: which YUV<->RGB matrix and range a stream really uses.

FFmpeg stores colour tags as raw enum integers (``AVColorSpace``, ``AVColorRange``,
``AVColorPrimaries``, ``AVColorTransferCharacteristic``). We keep those raw integers in
:class:`~freqvsr.io.VideoInfo` so they can be written back unchanged, and translate only the
matrix into swscale's ``SWS_CS_*`` numbering when converting pixels.

Untagged streams: players guess the matrix from the frame height (BT.709 for HD, BT.601 for SD)
and assume limited range for non-``yuvj`` formats. We make the same guess when decoding, and
when encoding we *tag* the guess so the output is self-consistent whatever the player does.
"""

from __future__ import annotations

import av
from av.video.reformatter import Interpolation

# AVColorSpace values (libavutil/pixfmt.h).
SPC_RGB = 0
SPC_BT709 = 1
SPC_UNSPECIFIED = 2
SPC_FCC = 4
SPC_BT470BG = 5
SPC_SMPTE170M = 6
SPC_SMPTE240M = 7
SPC_BT2020_NCL = 9
SPC_BT2020_CL = 10

# AVColorRange values.
RANGE_UNSPECIFIED = 0
RANGE_LIMITED = 1  # "MPEG"
RANGE_FULL = 2  # "JPEG"

PRI_UNSPECIFIED = 2
TRC_UNSPECIFIED = 2
PRI_SMPTE170M = 6  # AVColorPrimaries
TRC_SMPTE170M = 6  # AVColorTransferCharacteristic

# (colorspace, range, primaries, transfer) of SD BT.601 video, limited range: what the degradation
# codecs write (freqvsr.degrade.codec), so that players and our decoder convert back alike.
BT601_LIMITED = (SPC_SMPTE170M, RANGE_LIMITED, PRI_SMPTE170M, TRC_SMPTE170M)

# AVColorSpace -> SWS_CS_* (swscale's own numbering; 601 variants share one matrix).
_SPC_TO_SWS = {
    SPC_BT709: 1,
    SPC_FCC: 4,
    SPC_BT470BG: 5,
    SPC_SMPTE170M: 5,
    SPC_SMPTE240M: 7,
    SPC_BT2020_NCL: 9,
    # The constant-luminance variant has no swscale matrix; NCL coefficients are the closest.
    SPC_BT2020_CL: 9,
}

# swscale flags for every YUV<->RGB conversion in freqvsr (freqvsr.degrade converts through
# freqvsr.io too, so a clip degraded on the fly equals one written and read back).
# ACCURATE_RND | FULL_CHR_H_INT keep every conversion within half a code value of the exact
# formula, where swscale's default flags are off by about two; they cost time per frame, which
# decoding and encoding can afford (docs/measurements.md, swscale).
INTERPOLATION = Interpolation.BICUBIC | Interpolation.ACCURATE_RND | Interpolation.FULL_CHR_H_INT


def guess_matrix(height: int) -> int:
    """AVColorSpace a player assumes for an untagged stream of this height."""
    return SPC_BT709 if height >= 720 else SPC_SMPTE170M


def effective_matrix(colorspace: int | None, height: int) -> int:
    """The AVColorSpace actually used for conversion (guessed when unusable)."""
    if colorspace is not None and int(colorspace) in _SPC_TO_SWS:
        return int(colorspace)
    return guess_matrix(height)


def effective_range(color_range: int | None, pix_fmt: str | None) -> int:
    """The AVColorRange actually used: tagged value, else full for yuvj*/RGB/gray images, else limited."""
    if color_range in (RANGE_LIMITED, RANGE_FULL):
        return int(color_range)
    if pix_fmt and pix_fmt.startswith("yuvj"):
        return RANGE_FULL
    return RANGE_LIMITED


def sws_matrix(colorspace: int) -> int:
    return _SPC_TO_SWS[colorspace]


def is_rgb_format(pix_fmt: str) -> bool:
    fmt = av.VideoFormat(pix_fmt)
    return bool(fmt.is_rgb) or pix_fmt.startswith(("gbr", "rgb", "bgr", "argb", "abgr", "pal8"))


def is_gray_format(pix_fmt: str) -> bool:
    fmt = av.VideoFormat(pix_fmt)
    colour = [c for c in fmt.components if not c.is_alpha]
    return len(colour) == 1 and not fmt.has_palette


def bit_depth(pix_fmt: str) -> int:
    fmt = av.VideoFormat(pix_fmt)
    if fmt.has_palette:
        return 8
    bits = [c.bits for c in fmt.components if not c.is_alpha]
    return max(bits) if bits else 8


def needs_even(pix_fmt: str) -> tuple[bool, bool]:
    """(width must be even, height must be even) for a chroma-subsampled format."""
    fmt = av.VideoFormat(pix_fmt)
    return fmt.chroma_width(2) == 1, fmt.chroma_height(2) == 1
