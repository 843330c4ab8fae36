"""`freqvsr bench`: FLOP counting is exact on a known network, and the table is produced."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from freqvsr.bench import bench_model, count_flops, markdown
from freqvsr.cli.main import main
from freqvsr.models import VSRModel


class OneConv(VSRModel):
    temporal = "sequence"

    def __init__(self) -> None:
        super().__init__(scale=1)
        self.conv = nn.Conv2d(3, 5, 3, padding=1, bias=False)

    def forward(self, lq: torch.Tensor) -> torch.Tensor:
        b, t, c, h, w = lq.shape
        return self.conv(lq.reshape(b * t, c, h, w)).reshape(b, t, 5, h, w)


def test_flops_are_flops_not_macs():
    # a 3->5 3x3 conv: 5*3*9 multiply-adds per pixel = 270 FLOPs per pixel
    assert count_flops(OneConv(), frames=4, height=10, width=6) == 4 * 10 * 6 * 270


def test_bench_model_row_and_table():
    row = bench_model("basicvsr.tiny", height=16, width=16, frames=2, repeat=1, warmup=0)
    assert row["params"] > 1e6 and row["flops_per_frame"] > 0 and row["fps"] > 0 and row["peak_memory_bytes"] > 0
    assert "basicvsr.tiny" in markdown([row])


def test_bench_cli_isolated_process(tmp_path, capsys):
    out = tmp_path / "b.json"
    assert (
        main(["bench", "--model", "bicubic", "--size", "16x16", "--frames", "2", "--repeat", "1", "--json", str(out)])
        == 0
    )
    assert json.loads(out.read_text())[0]["model"] == "bicubic"
    assert "| bicubic |" in capsys.readouterr().out
    assert main(["bench", "--size", "16by16"]) == 2


def test_quality_table_on_a_tiny_evalset(tmp_path, capsys):
    from freqvsr.data.evalset import build_evalset

    root = tmp_path / "evalset"
    build_evalset(root, clips=("carphone",), presets=["bi", "crf35"], max_frames=3, log=lambda *a: None)
    assert (
        main(["bench", "--quality", "--evalset", str(root), "--model", "bicubic", "--json", str(tmp_path / "q.json")])
        == 0
    )
    rows = json.loads((tmp_path / "q.json").read_text())
    by = {r["preset"]: r for r in rows}
    assert set(by) == {"bi", "crf35"} and all(r["frames"] == 3 for r in rows)
    assert by["bi"]["psnr_rgb"] > by["crf35"]["psnr_rgb"] > 15  # compression costs PSNR
    assert "+0.00" in capsys.readouterr().out  # bicubic against itself


def test_quality_table_scores_niqe_where_frames_hold_two_blocks(tmp_path, capsys):
    from freqvsr.data.evalset import build_evalset
    from freqvsr.metrics.niqe import niqe

    root = tmp_path / "evalset"
    build_evalset(root, clips=("bikes", "carphone"), presets=["bi", "crf35"], max_frames=2, log=lambda *a: None)
    out = tmp_path / "q.json"
    assert main(["bench", "--quality", "--niqe", "--evalset", str(root), "--model", "bicubic", "--json", str(out)]) == 0
    rows = {(r["clip"], r["preset"]): r for r in json.loads(out.read_text())}
    bikes = rows[("bikes", "bi")]
    # bicubic x4 is blurred: further from natural-image statistics than the GT (NIQE lower = better)
    assert bikes["niqe"] > bikes["niqe_gt"] > 0
    assert rows[("bikes", "crf35")]["niqe_gt"] == bikes["niqe_gt"] != rows[("bikes", "crf35")]["niqe"]
    gt = [
        torch.from_numpy(np.array(Image.open(f).convert("RGB"))).permute(2, 0, 1) / 255.0
        for f in sorted((root / "bikes" / "GT").glob("*.png"))
    ]
    assert len(gt) == 2 and bikes["niqe_gt"] == pytest.approx((niqe(gt[0]) + niqe(gt[1])) / 2, rel=1e-9)
    assert rows[("carphone", "bi")]["niqe"] is None  # 176x144: one 96x96 block, NIQE undefined
    text = capsys.readouterr().out
    assert "NIQE ↓ (GT)" in text and f"bikes {bikes['niqe']:.2f} ({bikes['niqe_gt']:.2f})" in text


def test_cpu_attention_flops_are_counted():
    class Attn(VSRModel):
        temporal = "sequence"

        def forward(self, lq):
            q = lq.flatten(3).transpose(-1, -2)  # (B, T, HW, C)
            return torch.nn.functional.scaled_dot_product_attention(q, q, q).transpose(-1, -2).reshape(lq.shape)

    # QK^T and AV: 2 * (2 * HW * HW * C) per frame
    hw, c = 6 * 5, 3
    assert count_flops(Attn(scale=1), frames=2, height=6, width=5) == 2 * 2 * (2 * hw * hw * c)


def test_flops_counted_on_meta_equal_a_real_cpu_forward():
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from freqvsr.bench.speed import _EXTRA_FLOPS, count_flops
    from freqvsr.models import create_model

    for name in ("basicvsr.tiny", "ftvsr++.tiny"):  # ftvsr++: convs, grid_sample, CPU flash attention
        model = create_model(name).eval()
        counter = FlopCounterMode(display=False, custom_mapping=_EXTRA_FLOPS)
        with torch.no_grad(), counter:
            model(torch.rand(1, 2, 3, 16, 16))
        assert count_flops(model, 2, 16, 16) == counter.get_total_flops() > 0
        assert next(model.parameters()).device.type == "cpu"  # the model itself was not moved
