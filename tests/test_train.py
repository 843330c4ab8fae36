"""Training: typed configs, the loop (loss decreases, freezing, lr multipliers), exact resume,
self-describing final checkpoints, the CLI, GAN recipes and SPyNet pretraining. Tiny and on CPU."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import torch
import yaml

from freqvsr.errors import ModelError, UsageError
from freqvsr.models import create_model, load_checkpoint
from freqvsr.models._checkpoint import read_checkpoint_header
from freqvsr.train.config import (
    ScheduleConfig,
    config_from_dict,
    load_config,
)
from freqvsr.train.data import BatchStream, SyntheticClips
from freqvsr.train.logger import read_log
from freqvsr.train.loop import param_groups, simulated_interruption, train
from freqvsr.train.schedule import learning_rate

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def tiny_raw(**train_over) -> dict:
    return {
        "name": "tiny",
        "model": {"name": "basicvsr.tiny"},
        "data": {"kind": "synthetic", "args": {"length": 5}},
        "train": {"iterations": 6, "batch_size": 2, "crop_size": 32, "num_frames": 3, "log_every": 1, **train_over},
    }


# -- configs -------------------------------------------------------------------------------------


def test_unknown_key_is_one_line_usage_error_naming_key_and_file(tmp_path):
    path = tmp_path / "bad.yaml"
    raw = tiny_raw()
    raw["train"]["learning_rate"] = 1e-3
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(UsageError) as info:
        load_config(path)
    msg = str(info.value)
    assert "\n" not in msg and str(path) in msg and "train.learning_rate" in msg


@pytest.mark.parametrize(
    "raw_patch, fragment",
    [
        ({"train": {"iterations": "many"}}, "train.iterations"),
        ({"train": {"amp": "fp8"}}, "train.amp"),
        ({"optimizer": {"betas": [0.9]}}, "optimizer.betas"),
        ({"model": None}, "model"),
        ({"bogus": 1}, "bogus"),
    ],
)
def test_bad_values_are_rejected(raw_patch, fragment):
    raw = tiny_raw()
    for k, v in raw_patch.items():
        if isinstance(v, dict) and isinstance(raw.get(k), dict):
            raw[k] = {**raw[k], **v}
        else:
            raw[k] = v
    with pytest.raises(UsageError, match=fragment.replace(".", r"\.")):
        config_from_dict(raw, "x.yaml")


def test_overrides_are_parsed_by_field_type(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({**tiny_raw(), "loss": [{"name": "charbonnier"}, {"name": "fc"}]}))
    cfg = load_config(
        path,
        [
            "optimizer.lr=1e-4",  # YAML 1.1 would read "1e-4" as a string; the field says float
            "optimizer.betas=[0.8,0.9]",
            "train.iterations=4e2",  # an integral float is accepted for an int field
            "train.ema_decay=0.5",
            "train.use_lr_multipliers=false",
            "train.amp=bf16",
            "loss.1.weight=0.1",
            "model.args.mid_channels=4",  # free-form dict: YAML scalar
            "model.weights=null",
            "val.data.kind=synthetic",  # creates the optional section
            "train.freeze=[{modules: [spynet], iterations: 3}]",
        ],
    )
    assert cfg.optimizer.lr == 1e-4 and isinstance(cfg.optimizer.lr, float)
    assert cfg.optimizer.betas == (0.8, 0.9)
    assert cfg.train.iterations == 400 and isinstance(cfg.train.iterations, int)
    assert cfg.train.use_lr_multipliers is False and cfg.train.amp == "bf16"
    assert cfg.loss[1].weight == 0.1 and cfg.model.args == {"mid_channels": 4}
    assert cfg.val.data is not None and cfg.val.data.kind == "synthetic"
    assert cfg.train.freeze[0].modules == ("spynet",) and cfg.train.freeze[0].iterations == 3
    with pytest.raises(UsageError, match="train.nope"):
        load_config(path, ["train.nope=1"])
    with pytest.raises(UsageError, match="expected an integer"):
        load_config(path, ["train.iterations=1.5"])
    with pytest.raises(UsageError, match="out of range"):
        load_config(path, ["loss.7.weight=1"])
    with pytest.raises(dataclass_error()):
        cfg.train.iterations = 3  # frozen


def dataclass_error():
    import dataclasses

    return dataclasses.FrozenInstanceError


def test_every_shipped_recipe_parses():
    from freqvsr.train.spynet_pretrain import load_flow_config

    paths = sorted(CONFIGS.glob("*.yaml"))
    assert len(paths) >= 8
    names = set()
    for path in paths:
        raw = yaml.safe_load(path.read_text())
        cfg = load_flow_config(path) if "spynet" in raw else load_config(path)
        names.add(cfg.name)
    assert {"ftvsr_reds", "fcvsr_reds_qp32", "fastrealvsr_stage1", "fastrealvsr_stage2", "basicvsr_small_cpu"} <= names
    ftvsr = load_config(CONFIGS / "ftvsr_reds.yaml")
    assert ftvsr.optimizer.betas == (0.9, 0.99) and ftvsr.optimizer.lr == 2e-4
    assert ftvsr.schedule.kind == "cosine" and ftvsr.loss[0].name == "charbonnier"
    assert any("spynet" in f.modules for f in ftvsr.train.freeze)
    fcvsr = load_config(CONFIGS / "fcvsr_reds_qp32.yaml")
    assert [t.name for t in fcvsr.loss] == ["charbonnier", "fc"]
    stage2 = load_config(CONFIGS / "fastrealvsr_stage2.yaml")
    assert [(t.name, t.weight) for t in stage2.loss] == [("l1", 1.0), ("perceptual", 1.0), ("gan", 0.05)]


# -- schedule and parameter groups ------------------------------------------------------------------


def test_cosine_restart_schedule_matches_mmcv_formula():
    cfg = ScheduleConfig(kind="cosine", periods=(100,), restart_weights=(1.0,), min_lr=1e-7)
    assert learning_rate(cfg, 0, 2e-4, 100) == pytest.approx(2e-4)
    assert learning_rate(cfg, 50, 2e-4, 100) == pytest.approx(1e-7 + (2e-4 - 1e-7) * 0.5)
    assert learning_rate(cfg, 100, 2e-4, 100) == pytest.approx(1e-7)
    restarts = ScheduleConfig(kind="cosine", periods=(10, 10), restart_weights=(1.0, 0.5), min_lr=0.0)
    assert learning_rate(restarts, 10, 1.0, 20) == pytest.approx(0.5)  # restart at half the base
    warm = ScheduleConfig(kind="constant", warmup=4)
    assert [learning_rate(warm, i, 1.0, 10) for i in (0, 3, 4)] == [0.25, 1.0, 1.0]
    steps = ScheduleConfig(kind="multistep", milestones=(2, 4), gamma=0.5)
    assert [learning_rate(steps, i, 1.0, 10) for i in (1, 2, 4)] == [1.0, 0.5, 0.25]


def test_param_groups_follow_submodule_names_not_substrings():
    model = create_model("basicvsr.tiny", weights=None)
    # a parameter whose *name* contains "spynet" outside the spynet module must stay in the base group
    model.register_parameter("not_spynet_gate", torch.nn.Parameter(torch.zeros(1)))
    groups = param_groups(model, model.lr_multipliers(), 2e-4)
    by_name = {g["name"]: g for g in groups}
    assert by_name["spynet"]["lr"] == pytest.approx(2e-4 * 0.125)
    spynet_ids = {id(p) for p in model.spynet.parameters()}
    assert {id(p) for p in by_name["spynet"]["params"]} == spynet_ids
    assert any(p is model.not_spynet_gate for p in by_name["base"]["params"])
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))
    with pytest.raises(ModelError, match="nowhere"):
        param_groups(model, {"nowhere": 0.5}, 1e-3)


def test_batch_stream_splits_global_batches_and_resumes():
    ds = SyntheticClips(length=7, num_frames=1, size=8)  # only the index plan is checked
    single = BatchStream(ds, 4, seed=3)
    halves = [BatchStream(ds, 4, seed=3, rank=r, world=2) for r in range(2)]
    for epoch in range(2):
        one = single._batch_indices(epoch, 0)
        two = [h._batch_indices(epoch, 0) for h in halves]
        assert len(one) == 1  # 7 // 4, the incomplete global batch is dropped
        assert one[0] == two[0][0] + two[1][0]
    assert single._batch_indices(0, 0) != single._batch_indices(1, 0)  # reshuffled every epoch
    single.epoch, single.position = 1, 1
    state = single.state_dict()
    fresh = BatchStream(ds, 4, seed=3)
    fresh.load_state_dict(state)
    assert (fresh.epoch, fresh.position) == (2, 0)  # position 1 of 1 batch: the next epoch starts
    with pytest.raises(UsageError, match="divisible"):
        BatchStream(ds, 3, seed=0, world=2)


# -- the loop ------------------------------------------------------------------------------------------


def test_tiny_training_loss_decreases(tmp_path):
    raw = tiny_raw(iterations=16)
    raw["data"]["args"] = {"length": 2, "fixed": True}  # two clips seen again and again
    raw["optimizer"] = {"lr": 2e-3}
    raw["schedule"] = {"kind": "constant"}
    result = train(config_from_dict(raw), tmp_path / "run", progress=False)
    first, last = sum(result.losses[:4]) / 4, sum(result.losses[-4:]) / 4
    assert last < 0.9 * first, result.losses
    logged = [r["loss"] for r in read_log(tmp_path / "run" / "metrics.jsonl")]
    assert logged == result.losses


def test_resume_reproduces_the_uninterrupted_run_bit_for_bit(tmp_path):
    # EMA, freezing (ends mid-run), gradient clipping, per-module lr, cosine schedule and three
    # epochs (5 clips, batch 2): everything a resume has to restore.
    raw = tiny_raw(iterations=6, ema_decay=0.9, grad_clip=0.5, freeze=[{"modules": ["spynet"], "iterations": 2}])
    cfg = config_from_dict(raw)
    straight = train(cfg, tmp_path / "a", progress=False)
    with simulated_interruption(3):
        first = train(cfg, tmp_path / "b", progress=False)
    assert first.final is None and (tmp_path / "b" / "training_state.pt").is_file()
    second = train(cfg, tmp_path / "b", progress=False, resume=True)
    assert first.losses + second.losses == straight.losses  # exact float equality
    a, b = load_checkpoint(straight.final), load_checkpoint(second.final)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and torch.equal(va, vb), ka
    assert read_checkpoint_header(second.final)["training"]["iterations"] == 6


def test_frozen_module_does_not_move_and_lr_multiplier_applies(tmp_path):
    raw = tiny_raw(iterations=2, freeze=[{"modules": ["spynet"], "iterations": 2}], log_every=1)
    torch.manual_seed(0)  # train() seeds with train.seed (0) before building the model
    init = create_model("basicvsr.tiny", weights=None)
    result = train(config_from_dict(raw), tmp_path / "r", progress=False)
    trained = load_checkpoint(result.final)
    for (name, p0), p1 in zip(init.spynet.state_dict().items(), trained.spynet.state_dict().values()):
        assert torch.equal(p0, p1), name
    assert not torch.equal(init.fusion.weight, trained.fusion.weight)
    rec = read_log(tmp_path / "r" / "metrics.jsonl")[0]
    assert rec["lr_spynet"] == pytest.approx(rec["lr_base"] * 0.125)


def test_final_checkpoint_describes_the_training(tmp_path):
    raw = tiny_raw(iterations=2, image_every=1)
    raw["val"] = {"data": {"kind": "synthetic", "args": {"length": 2, "size": 32}}, "metric": "psnr"}
    result = train(config_from_dict(raw), tmp_path / "r", progress=False)
    header = read_checkpoint_header(result.final)
    training = header["training"]
    assert training["iterations"] == 2 and training["wall_time_s"] >= 0
    assert "cpu" in training["hardware"] and training["degradation"]["preset"] == "bi"
    assert training["data"]["kind"] == "synthetic"
    (metric,) = header["metrics"]
    assert metric["name"] == "psnr" and 5 < metric["value"] < 60 and "RGB" in metric["protocol"]
    assert (tmp_path / "r" / "best.safetensors").is_file()
    assert list((tmp_path / "r" / "samples").glob("*.png")) or (tmp_path / "r" / "tensorboard").is_dir()
    assert read_log(tmp_path / "r" / "metrics.jsonl", kind="val")[-1]["psnr"] == pytest.approx(metric["value"])


def test_gan_recipe_trains_generator_and_discriminator(tmp_path):
    raw = tiny_raw(iterations=2)
    raw["loss"] = [
        {"name": "l1"},
        {"name": "perceptual", "weight": 1.0},
        {"name": "gan", "weight": 0.05, "args": {"num_feat": 4}},
    ]
    out = tmp_path / "g"
    result = train(config_from_dict(raw), out, progress=False)
    rec = read_log(out / "metrics.jsonl")[-1]
    assert {"loss_l1", "loss_perceptual", "loss_gan", "loss_discriminator"} <= set(rec)
    state = torch.load(out / "training_state.pt", weights_only=True)
    assert state["discriminator"] is not None and state["discriminator_optimizer"]["state"]
    assert result.final is not None


def test_gan_images_shows_the_discriminator_a_random_subset_of_frames(tmp_path):
    from freqvsr.train.config import LossTerm
    from freqvsr.train.objective import Objective

    obj = Objective((LossTerm("gan", 0.05, {"num_feat": 4, "images": 3}),))
    sr = torch.arange(10.0).view(10, 1, 1, 1).expand(10, 3, 8, 8)
    gt = sr + 100
    picked_sr, picked_gt = obj.adversarial_sample(sr, gt)
    assert picked_sr.shape == (3, 3, 8, 8)
    assert torch.equal(picked_gt, picked_sr + 100)  # the same frames of both
    assert len(set(picked_sr[:, 0, 0, 0].tolist())) == 3
    seen = {float(v) for _ in range(20) for v in obj.adversarial_sample(sr)[0][:, 0, 0, 0]}
    assert len(seen) > 3  # drawn anew each call, not the first k
    calls = []
    real_forward = obj.discriminator.forward
    obj.discriminator.forward = lambda x: calls.append(x.shape[0]) or real_forward(x)
    obj.generator_loss(sr.clone(), gt, gt)
    assert calls == [3]
    assert Objective((LossTerm("gan", 0.05, {"num_feat": 4}),)).adversarial_sample(sr)[0].shape[0] == 10
    with pytest.raises(UsageError, match="images"):
        Objective((LossTerm("gan", 0.05, {"num_feat": 4, "images": -1}),))

    raw = tiny_raw(iterations=2)
    raw["loss"] = [{"name": "l1"}, {"name": "gan", "weight": 0.05, "args": {"num_feat": 4, "images": 2}}]
    train(config_from_dict(raw), tmp_path / "g", progress=False)
    assert "loss_discriminator" in read_log(tmp_path / "g" / "metrics.jsonl")[-1]


def test_cli_train_overrides_and_refuses_to_overwrite(tmp_path, capsys):
    from freqvsr.cli import train as cli_train

    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(tiny_raw(iterations=50)))
    parser = argparse.ArgumentParser()
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true")
    cli_train.add_parser(parser.add_subparsers(), common)
    out = tmp_path / "run"
    args = parser.parse_args(["train", str(config), "train.iterations=2", "--out", str(out), "--quiet"])
    assert args.func(args) == 0
    assert read_checkpoint_header(out / "final.safetensors")["training"]["iterations"] == 2
    again = parser.parse_args(["train", str(config), "--out", str(out), "--quiet"])
    with pytest.raises(UsageError, match="--resume"):
        again.func(again)


# -- flow pretraining ------------------------------------------------------------------------------------


def test_synthetic_flow_pairs_are_exact():
    from freqvsr.functional.flow import flow_warp
    from freqvsr.train.procedural import flow_pair

    g = torch.Generator().manual_seed(0)
    ref, supp, flow = flow_pair(g, 48, 40, max_shift=3.0, local=1.0)
    warped = flow_warp(supp[None], flow.permute(1, 2, 0)[None], padding_mode="border")[0]
    m = int(flow.abs().max().ceil()) + 1  # pixels that sample inside supp
    assert (warped - ref)[:, m:-m, m:-m].abs().max() < 1e-4
    assert flow.abs().max() > 0.5


def test_pyramid_flows_equal_spynet_and_pretraining_runs(tmp_path):
    from safetensors.torch import load_file

    from freqvsr.layers.spynet import SPyNet
    from freqvsr.train.config import from_dict
    from freqvsr.train.spynet_pretrain import (
        FlowConfig,
        make_batch,
        pretrain_spynet,
        pyramid_flows,
    )

    torch.manual_seed(0)
    net = SPyNet()
    cfg = from_dict(
        FlowConfig,
        {
            "spynet": {
                "size": 32,
                "batch_size": 2,
                "val_pairs": 2,
                "zero_init": False,
                "level_iterations": [0, 0, 0, 0, 0, 2],
                "finetune_iterations": 1,
            }
        },
    )
    ref, supp, _ = make_batch(cfg.spynet, 0, 2)
    with torch.no_grad():
        assert torch.allclose(pyramid_flows(net, ref, supp, 5)[-1], net.compute_flow(ref, supp), atol=1e-6)
    result = pretrain_spynet(cfg, tmp_path / "flow", progress=False)
    assert result["iterations"] == 3 and result["epe_zero"] > 0
    SPyNet().load_state_dict(load_file(result["weights"]))  # loads back strictly


def test_spynet_overfits_one_pair():
    """The coarse-to-fine machinery learns: EPE on a fixed pair falls well below zero flow."""
    from freqvsr.layers.spynet import SPyNet
    from freqvsr.train.config import from_dict
    from freqvsr.train.spynet_pretrain import (
        FlowConfig,
        downsample_flow,
        epe,
        make_batch,
        pyramid_flows,
    )

    s = from_dict(
        FlowConfig, {"spynet": {"size": 32, "max_shift": 2.0, "max_rotation_deg": 0, "max_zoom": 0, "local": 0}}
    ).spynet
    ref, supp, gt = make_batch(s, 0, 1)
    torch.manual_seed(0)
    net = SPyNet()
    for level in net.basic_module:
        torch.nn.init.zeros_(level.basic_module[-1].conv.weight)
        torch.nn.init.zeros_(level.basic_module[-1].conv.bias)
    level = 5  # full resolution (32x32); levels below are 4x4 pixels and smaller at this size
    opt = torch.optim.Adam(net.basic_module[level].parameters(), lr=1e-3)
    target = downsample_flow(gt, level)
    assert torch.equal(target, gt)
    zero = float(epe(torch.zeros_like(target), target))
    for _ in range(20):
        loss = epe(pyramid_flows(net, ref, supp, level)[-1], target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss.detach()) < 0.5 * zero


def test_logger_uses_tensorboard_when_installed_and_jsonl_always(tmp_path, monkeypatch):
    import sys
    import types

    from freqvsr.train.logger import Logger

    calls = []

    class FakeWriter:
        def __init__(self, logdir):
            calls.append(("init", logdir))

        def add_scalar(self, tag, value, step):
            calls.append(("scalar", tag, value, step))

        def add_image(self, tag, image, step):
            calls.append(("image", tag, tuple(image.shape), step))

        def close(self):
            calls.append(("close",))

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", types.SimpleNamespace(SummaryWriter=FakeWriter))
    log = Logger(tmp_path)
    log.scalars(3, {"loss": 0.5})
    log.image(3, "val/x", torch.rand(3, 4, 5))
    log.close()
    assert ("scalar", "train/loss", 0.5, 3) in calls and ("image", "val/x", (3, 4, 5), 3) in calls
    assert read_log(tmp_path / "metrics.jsonl") == [{"kind": "train", "iter": 3, "loss": 0.5}]

    # without tensorboard: no failure, PNG samples instead
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import raises ImportError
    log = Logger(tmp_path / "plain")
    log.image(1, "val/x", torch.rand(3, 4, 5))
    log.close()
    assert log.writer is None and len(list((tmp_path / "plain" / "samples").glob("*.png"))) == 1


def test_spynet_pairs_from_a_corpus_with_exact_flow(tmp_path):
    """Pairs from the corpus layout (frames + flow.npy + flow_valid.npy, freqvsr.data.corpus)."""
    import numpy as np
    from PIL import Image

    from freqvsr.data.camera_motion import MotionConfig, synthetic_clip
    from freqvsr.functional.flow import flow_warp
    from freqvsr.train.spynet_pretrain import CorpusPairs
    from freqvsr.train.procedural import random_texture

    photo = (random_texture(torch.Generator().manual_seed(0), 192, 192).permute(1, 2, 0).numpy() * 255).astype(np.uint8)
    clip = synthetic_clip(photo, 3, (48, 48), torch.Generator().manual_seed(0), MotionConfig())
    folder = tmp_path / "synthetic" / "p0"
    folder.mkdir(parents=True)
    for i, frame in enumerate(clip.frames):
        Image.fromarray(frame).save(folder / f"{i:05d}.png")
    np.save(folder / "flow.npy", clip.flow)
    np.save(folder / "flow_valid.npy", clip.valid)
    ref, supp, flow, valid = CorpusPairs(tmp_path, 32).batch(0, 3)
    assert ref.shape == (3, 3, 32, 32) and valid.dtype == torch.bool and valid.float().mean() > 0.5
    warped = flow_warp(supp, flow.permute(0, 2, 3, 1), padding_mode="border")
    err = (warped - ref).abs().amax(1)[valid].mean()
    assert err < 0.25 * (supp - ref).abs().amax(1)[valid].mean()  # the flow explains the motion


def test_ema_warmup_forgets_the_initialisation():
    import torch
    from torch import nn

    from freqvsr.train.ema import EMA

    net = nn.Linear(2, 2, bias=False)
    nn.init.zeros_(net.weight)
    plain, warm = EMA(net, 0.999), EMA(net, 0.999, warmup=True)
    with torch.no_grad():
        net.weight.fill_(1.0)
    for step in range(100):
        plain.update(net, step)
        warm.update(net, step)
    # plain keeps 0.999**100 = 90 % of the zero init; warm-up keeps prod((1+s)/(10+s)) ~ 0
    assert float(plain.model.weight.mean()) == pytest.approx(1 - 0.999**100, rel=1e-4)
    assert float(warm.model.weight.mean()) > 0.99
    assert warm.decay_at(0) == pytest.approx(0.1) and warm.decay_at(10**6) == 0.999
