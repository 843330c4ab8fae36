"""Inference: the streaming :class:`Upscaler` (chunks, tiles, device, precision) and file jobs."""

from freqvsr.inference.engine import SegmentEnd, SRFrame, Upscaler

# The file jobs (job.py) import freqvsr.io, hence PyAV: loaded on first use, so that training
# (which imports freqvsr.inference.device) runs on machines without PyAV.
_JOB_NAMES = ("DEFAULT_MODEL", "UpscaleReport", "upscale_video", "work_dir_for")


def __getattr__(name: str):
    if name in _JOB_NAMES:
        from freqvsr.inference import job

        return getattr(job, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["DEFAULT_MODEL", "SRFrame", "SegmentEnd", "UpscaleReport", "Upscaler", "upscale_video", "work_dir_for"]
