"""`freqvsr eval PRED NAME:ROOT`: dataset presets as the ground truth, with their default protocols."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from freqvsr.cli.main import main
from freqvsr.errors import InputError, UsageError
from freqvsr.bench.evaluate import DATASETS, evaluate, format_markdown, parse_dataset

SIZE = 16


def _write(folder, frames):
    folder.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(frames):
        Image.fromarray(f).save(folder / f"{i:08d}.png")
    return folder


def _gt_frames(seed: int, n: int = 3) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8) for _ in range(n)]


def _pred_frames(gt: list[np.ndarray], seed: int) -> list[np.ndarray]:
    # Colour-dependent error so that RGB and Y PSNR differ, and a ramp so that border crops matter.
    rng = np.random.default_rng(100 + seed)
    ramp = np.linspace(0, 12, SIZE)[None, :, None]
    out = []
    for g in gt:
        noise = rng.normal(0, 6, g.shape) * np.array([1.0, 0.2, 2.0])
        out.append(np.clip(g + noise + ramp, 0, 255).round().astype(np.uint8))
    return out


@pytest.fixture()
def vid4(tmp_path):
    """A Vid4 layout (ROOT/GT/<clip>) with two clips and predictions for both."""
    root, pred = tmp_path / "Vid4", tmp_path / "sr_vid4"
    for k, name in enumerate(("calendar", "city")):
        gt = _gt_frames(k)
        _write(root / "GT" / name, gt)
        _write(pred / name, _pred_frames(gt, k))
    _write(root / "BIx4" / "calendar", [f[::4, ::4] for f in _gt_frames(0)])  # LQ is not needed, not in the way
    return root, pred


def _direct(pred_clip, gt_clip, y_channel, crop_border):
    return evaluate(pred_clip, gt_clip, y_channel=y_channel, crop_border=crop_border)["clips"][0]


def test_vid4_preset_pairs_clips_and_applies_y_channel(vid4):
    root, pred = vid4
    res = evaluate(pred, f"vid4:{root}")
    assert [c["name"] for c in res["clips"]] == ["calendar", "city"] and res["frames"] == 6
    assert res["y_channel"] is True and res["crop_border"] == 0
    assert "Y (BT.601)" in res["protocol"]["psnr"] and "crop 0" in res["protocol"]["ssim"]
    ds = res["dataset"]
    assert ds["preset"] == "vid4" and ds["root"] == str(root) and ds["gt_clips"] == 2
    assert ds["defaults"] == {"y_channel": True, "crop_border": 0} and ds["overridden"] == []
    for c in res["clips"]:
        ref = _direct(pred / c["name"], root / "GT" / c["name"], True, 0)
        assert c["psnr"] == pytest.approx(ref["psnr"], abs=1e-12) and c["ssim"] == pytest.approx(ref["ssim"], abs=1e-12)
        rgb = _direct(pred / c["name"], root / "GT" / c["name"], False, 0)
        assert abs(c["psnr"] - rgb["psnr"]) > 0.1  # the default really is Y, not RGB
        assert c["gt"] == str(root / "GT" / c["name"])
    md = format_markdown(res)
    assert "PSNR (dB, Y, crop 0)" in md and "dataset: vid4:" in md and "(default)" in md


def test_explicit_flags_override_the_preset_defaults(vid4):
    root, pred = vid4
    res = evaluate(pred, f"vid4:{root}", y_channel=False, crop_border=2)
    assert res["y_channel"] is False and res["crop_border"] == 2
    assert res["dataset"]["overridden"] == ["y_channel", "crop_border"]
    assert "RGB" in res["protocol"]["psnr"] and "crop 2" in res["protocol"]["psnr"]
    ref = _direct(pred / "city", root / "GT" / "city", False, 2)
    assert res["clips"][1]["psnr"] == pytest.approx(ref["psnr"], abs=1e-12)
    # Passing the default value explicitly is not an override.
    assert evaluate(pred, f"vid4:{root}", y_channel=True)["dataset"]["overridden"] == []


def test_reds4_preset_takes_the_four_test_clips_in_rgb(tmp_path):
    root, pred = tmp_path / "REDS", tmp_path / "sr"
    for k, name in enumerate(("000", "001", "011", "015", "020")):  # 001 is a training clip
        gt = _gt_frames(k, n=2)
        _write(root / "train_sharp" / name, gt)
        if name != "001":
            _write(pred / name, _pred_frames(gt, k))
    res = evaluate(pred, f"reds4:{root}", metrics=["psnr"])
    assert [c["name"] for c in res["clips"]] == ["000", "011", "015", "020"]
    assert res["y_channel"] is False and res["crop_border"] == 0 and "RGB" in res["protocol"]["psnr"]
    ref = _direct(pred / "015", root / "train_sharp" / "015", False, 0)
    assert res["clips"][2]["psnr"] == pytest.approx(ref["psnr"], abs=1e-12)
    assert res["dataset"]["defaults"] == {"y_channel": False, "crop_border": 0}
    # A REDS4 clip missing from the dataset itself is the scanner's one-line error.
    import shutil

    shutil.rmtree(root / "train_sharp" / "020")
    with pytest.raises(InputError, match="REDS4 clips 020 not found"):
        evaluate(pred, f"reds4:{root}")


def test_vimeo_preset_pairs_nested_keys_by_relative_path(tmp_path):
    root, pred = tmp_path / "vimeo_septuplet", tmp_path / "sr"
    (root).mkdir()
    (root / "sep_testlist.txt").write_text("00001/0266\n00002/0010\n")
    for k, key in enumerate(("00001/0266", "00002/0010")):
        gt = _gt_frames(k, n=7)
        folder = root / "sequences" / key
        folder.mkdir(parents=True)
        for i, f in enumerate(gt):
            Image.fromarray(f).save(folder / f"im{i + 1}.png")
        _write(pred / key, _pred_frames(gt, k))
    res = evaluate(pred, f"vimeo:{root}", metrics=["psnr"], max_frames=3)
    assert [c["name"] for c in res["clips"]] == ["00001/0266", "00002/0010"]
    assert [c["frames"] for c in res["clips"]] == [3, 3]
    assert res["y_channel"] is True and res["crop_border"] == 0


def test_evalset_preset_scores_each_degradation_folder(tmp_path):
    root, pred = tmp_path / "evalset", tmp_path / "sr"
    gt = _gt_frames(5, n=2)
    _write(root / "carphone" / "GT", gt)
    index = {
        "format": "freqvsr-evalset",
        "version": 1,
        "clips": {"carphone": {"frames": 2, "gt": "carphone/GT"}},
        "presets": ["bi", "crf25"],
        "items": [],
    }
    (root / "evalset.json").write_text(json.dumps(index))
    _write(pred / "carphone" / "bi", _pred_frames(gt, 1))
    _write(pred / "carphone" / "crf25", _pred_frames(gt, 2))
    res = evaluate(pred, f"evalset:{root}", metrics=["psnr"])
    assert [c["name"] for c in res["clips"]] == ["carphone/bi", "carphone/crf25"]
    assert res["y_channel"] is False and res["crop_border"] == 0 and res["dataset"]["presets"] == ["bi", "crf25"]
    assert res["clips"][0]["psnr"] != res["clips"][1]["psnr"]
    # One folder per clip (a single degradation's predictions) pairs by clip name.
    flat = tmp_path / "sr_flat"
    _write(flat / "carphone", _pred_frames(gt, 1))
    one = evaluate(flat, f"evalset:{root}", metrics=["psnr"])
    assert [c["name"] for c in one["clips"]] == ["carphone"]
    assert one["clips"][0]["psnr"] == pytest.approx(res["clips"][0]["psnr"], abs=1e-12)


def test_missing_predicted_clip_is_a_one_line_input_error(vid4, capsys):
    root, pred = vid4
    import shutil

    shutil.rmtree(pred / "city")
    with pytest.raises(InputError, match=r"sr_vid4/city: missing .*vid4 clip 'city'"):
        evaluate(pred, f"vid4:{root}")
    assert main(["eval", str(pred), f"vid4:{root}"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("freqvsr: error:") and "city" in err and "\n" not in err


def test_bad_preset_name_exits_2_listing_the_valid_ones(tmp_path, capsys):
    assert main(["eval", str(tmp_path), f"vid5:{tmp_path}"]) == 2
    err = capsys.readouterr().err.strip()
    assert "'vid5' is not a dataset preset" in err and "\n" not in err
    for name in DATASETS:
        assert f"{name}:ROOT" in err
    with pytest.raises(UsageError):
        parse_dataset("redz:/data")
    # Missing preset root: one line naming it.
    with pytest.raises(InputError, match="nowhere: no such folder"):
        evaluate(tmp_path, f"vid4:{tmp_path / 'nowhere'}")


def test_plain_paths_are_not_presets(tmp_path):
    weird = tmp_path / "vid4:odd"  # an existing path wins over the preset syntax
    weird.mkdir()
    assert parse_dataset(str(weird)) is None
    assert parse_dataset("C:/videos/gt.mp4") is None  # a drive letter, not a preset
    assert parse_dataset("gt.mp4") is None
    assert parse_dataset("VID4:/data/Vid4") == ("vid4", __import__("pathlib").Path("/data/Vid4"))


def test_cli_json_records_the_protocol_used(vid4, capsys):
    root, pred = vid4
    out = pred.parent / "r.json"
    assert main(["eval", str(pred), f"vid4:{root}", "--json", str(out), "--quiet"]) == 0
    res = json.loads(out.read_text())
    assert res["y_channel"] is True and res["crop_border"] == 0 and res["dataset"]["preset"] == "vid4"
    assert main(["eval", str(pred), f"vid4:{root}", "--rgb", "--crop-border", "1", "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["y_channel"] is False and res["crop_border"] == 1
    assert res["dataset"]["overridden"] == ["y_channel", "crop_border"]
    md = capsys.readouterr().out
    assert "PSNR (dB, RGB, crop 1)" in md and "| city | 3 |" in md and "**average** (2 clips)" in md
    # Plain inputs keep the old defaults (RGB, crop 0) and record no dataset.
    assert main(["eval", str(pred / "city"), str(root / "GT" / "city"), "--json", str(out), "--quiet"]) == 0
    res = json.loads(out.read_text())
    assert res["y_channel"] is False and res["crop_border"] == 0 and res["dataset"] is None


def test_help_lists_every_preset_with_its_defaults(capsys):
    from freqvsr.cli.eval import _PRESETS_HELP

    assert list(_PRESETS_HELP) == list(DATASETS)
    for name, proto in DATASETS.items():
        assert f"default {'Y' if proto.y_channel else 'RGB'}, crop {proto.crop_border}" in _PRESETS_HELP[name]
    with pytest.raises(SystemExit) as e:
        main(["eval", "--help"])
    assert e.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for name in DATASETS:
        assert f"{name}:ROOT" in text
    assert "--rgb" in text and "--y-channel" in text
