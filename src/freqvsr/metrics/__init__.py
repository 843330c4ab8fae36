"""Quality metrics with the literature's protocols.

Pure computations on tensors/arrays (imports only ``freqvsr.functional``); file-level evaluation
of videos and frame folders lives in :mod:`freqvsr.bench.evaluate`. Optional dependencies are
imported by the function that needs them: OpenCV for tOF, imageio-ffmpeg for VMAF.

Modules: ``psnr_ssim`` (``psnr``, ``ssim``), ``niqe`` (``niqe``), ``vmaf`` (``vmaf``,
``vmaf_frames``), ``tof`` (``tof_clip``, ``tof_pair``). The ``niqe`` and ``vmaf`` functions are
deliberately not re-exported here: a package attribute of the same name would hide the module
(``import freqvsr.metrics.niqe as m`` would then give the function). Import them from their modules.
"""

from freqvsr.metrics.psnr_ssim import as_image_tensor, mean_db, psnr, ssim
from freqvsr.metrics.tof import tof_clip, tof_pair

__all__ = ["as_image_tensor", "mean_db", "psnr", "ssim", "tof_clip", "tof_pair"]
