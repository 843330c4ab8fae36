"""Quality metrics with the literature's protocols."""

from freqvsr.metrics.psnr_ssim import psnr, ssim

__all__ = ["psnr", "ssim"]
