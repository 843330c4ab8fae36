"""Inference: the streaming :class:`Upscaler` (chunks, tiles, device, precision) and file jobs."""

from freqvsr.inference.engine import SegmentEnd, SRFrame, Upscaler
from freqvsr.inference.job import DEFAULT_MODEL, UpscaleReport, upscale_video, work_dir_for

__all__ = ["DEFAULT_MODEL", "SRFrame", "SegmentEnd", "UpscaleReport", "Upscaler", "upscale_video", "work_dir_for"]
