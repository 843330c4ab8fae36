"""The public Python API: what `import freqvsr` promises."""

from __future__ import annotations

import numpy as np

import freqvsr
from clips import make_video


def test_public_names():
    for name in ("upscale_video", "Upscaler", "create_model", "list_models", "load_checkpoint", "__version__"):
        assert hasattr(freqvsr, name), name
    assert "bicubic" in freqvsr.list_models()


def test_upscale_video_report(tmp_path):
    src = make_video(tmp_path / "in.mp4", frames=5, size=(20, 14))
    report = freqvsr.upscale_video(src, tmp_path / "out.mp4", model="bicubic", quiet=True)
    d = report.to_dict()
    assert d["frames"] == 5 and d["seconds"] > 0 and d["fps"] > 0 and d["peak_memory_bytes"] > 2**20
    assert d["output_size"] == (80, 56) and d["device"] == "cpu" and d["precision"] == "fp32"


def test_upscaler_on_arrays_keeps_dtype():
    up = freqvsr.Upscaler("bicubic", device="cpu")
    frames = [np.full((6, 5, 3), 1000 * i, np.uint16) for i in range(3)]
    out = list(up.upscale_arrays(frames))
    assert [o.shape for o in out] == [(24, 20, 3)] * 3 and out[0].dtype == np.uint16
    assert [int(o[0, 0, 0]) for o in out] == [0, 1000, 2000]
