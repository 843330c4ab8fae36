"""BasicVSR: wiring, bidirectional propagation, official key layouts (mmediting and BasicSR)."""

from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F

from freqvsr.models import create_model
from freqvsr.models.basicvsr import BasicVSR


def _n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def test_variant_sizes():
    # The paper reports 6.3M parameters for BasicVSR (SPyNet included).
    assert _n_params(create_model("basicvsr")) == 6_291_311
    assert _n_params(create_model("basicvsr.small")) == 1_982_159
    assert _n_params(create_model("basicvsr.tiny")) == 1_504_055  # almost all SPyNet (1.44M)


def test_lr_multipliers_name_a_submodule():
    model = create_model("basicvsr.tiny")
    mult = model.lr_multipliers()
    assert mult == {"spynet": 0.125}
    assert all(isinstance(getattr(model, name), torch.nn.Module) for name in mult)


def test_single_frame_is_both_passes_without_flow():
    torch.manual_seed(0)
    model = create_model("basicvsr.tiny").eval()
    lq = torch.rand(2, 1, 3, 13, 17)
    with torch.no_grad():
        out = model(lq)
        x = lq[:, 0]
        zeros = x.new_zeros(2, 8, 13, 17)
        back = model.backward_resblocks(torch.cat([x, zeros], 1))
        fwd = model.forward_resblocks(torch.cat([x, zeros], 1))
        feat = F.leaky_relu(model.fusion(torch.cat([back, fwd], 1)), 0.1)
        feat = F.leaky_relu(model.upsample1(feat), 0.1)
        feat = F.leaky_relu(model.upsample2(feat), 0.1)
        feat = F.leaky_relu(model.conv_hr(feat), 0.1)
        expected = model.conv_last(feat) + F.interpolate(x, scale_factor=4, mode="bilinear", align_corners=False)
    assert out.shape == (2, 1, 3, 52, 68)
    torch.testing.assert_close(out[:, 0], expected, rtol=1e-5, atol=1e-6)


def test_propagation_is_bidirectional():
    torch.manual_seed(0)
    model = create_model("basicvsr.tiny").eval()
    lq = torch.rand(1, 4, 3, 24, 28)
    with torch.no_grad():
        base = model(lq)
        last_changed = lq.clone()
        last_changed[:, -1] = torch.rand(3, 24, 28)
        first_changed = lq.clone()
        first_changed[:, 0] = torch.rand(3, 24, 28)
        out_last, out_first = model(last_changed), model(first_changed)
    # backward propagation carries frame T-1 to output 0, forward propagation frame 0 to output T-1
    assert (out_last[:, 0] - base[:, 0]).abs().max() > 1e-4
    assert (out_first[:, -1] - base[:, -1]).abs().max() > 1e-4
    # batch elements do not mix
    with torch.no_grad():
        pair = model(torch.cat([lq, last_changed]))
    torch.testing.assert_close(pair[:1], base, rtol=1e-5, atol=1e-5)


def _ours_to_basicsr(state: dict) -> dict:
    """Inverse of the BasicSR mapping, written from BasicSR's basicvsr_arch.py / spynet_arch.py layout."""
    out = {}
    for key, value in state.items():
        m = re.fullmatch(r"spynet\.basic_module\.(\d)\.basic_module\.(\d)\.conv\.(weight|bias)", key)
        if m:
            key = f"spynet.basic_module.{m[1]}.basic_module.{2 * int(m[2])}.{m[3]}"  # conv, ReLU, conv, ...
        key = key.replace("backward_resblocks.", "backward_trunk.").replace("forward_resblocks.", "forward_trunk.")
        key = key.replace("upsample1.upsample_conv.", "upconv1.").replace("upsample2.upsample_conv.", "upconv2.")
        out[key] = value
    return out


def test_basicsr_layout_loads_exactly(tmp_path):
    torch.manual_seed(3)
    src = create_model("basicvsr.tiny")
    basicsr = _ours_to_basicsr(src.state_dict())
    assert "upconv1.weight" in basicsr and "backward_trunk.main.2.0.conv1.weight" in basicsr
    assert "spynet.basic_module.5.basic_module.8.weight" in basicsr
    path = tmp_path / "BasicVSR_REDS4.pth"
    torch.save({"params_ema": basicsr, "params": {k: v * 0 for k, v in basicsr.items()}}, path)
    dst = create_model("basicvsr.tiny", weights=path)
    for k, v in src.state_dict().items():
        assert torch.equal(dst.state_dict()[k], v), k


def test_mmediting_layout_loads_exactly(tmp_path):
    torch.manual_seed(4)
    src = create_model("basicvsr.tiny")
    state = {f"generator.{k}": v for k, v in src.state_dict().items()}
    del state["generator.spynet.mean"], state["generator.spynet.std"]  # restored by the hook
    state["step_counter"] = torch.zeros(1)  # restorer buffer, not part of the network
    path = tmp_path / "basicvsr_reds4.pth"
    torch.save({"meta": {"mmedit_version": "0.x"}, "state_dict": state}, path)
    dst = create_model("basicvsr.tiny", weights=path)
    for k, v in src.state_dict().items():
        assert torch.equal(dst.state_dict()[k], v), k


def test_convert_is_identity_on_our_own_keys():
    state = create_model("basicvsr.tiny").state_dict()
    assert list(BasicVSR.convert_state_dict(state)) == list(state)


@pytest.mark.parametrize("size", [(7, 9), (33, 65)])
def test_any_frame_size(size):
    torch.manual_seed(0)
    model = create_model("basicvsr.tiny").eval()
    with torch.no_grad():
        out = model(torch.rand(1, 2, 3, *size))
    assert out.shape == (1, 2, 3, 4 * size[0], 4 * size[1]) and torch.isfinite(out).all()


def test_bicubic_skip_with_zero_last_conv_starts_at_bicubic():
    import torch

    from freqvsr.functional.resize import bicubic_upsample
    from freqvsr.models import create_model

    m = create_model("basicvsr.tiny", skip="bicubic", zero_init_last=True).eval()
    x = torch.rand(1, 3, 3, 12, 10)
    with torch.no_grad():
        torch.testing.assert_close(m(x)[0], bicubic_upsample(x[0], 4))
    default = create_model("basicvsr.tiny").eval()
    assert default.skip == "bilinear" and default.conv_last.weight.abs().sum() > 0


def test_zero_init_flow_starts_spynet_at_zero_flow():
    m = create_model("basicvsr.tiny", zero_init_flow=True).eval()
    a, b = torch.rand(2, 3, 20, 24), torch.rand(2, 3, 20, 24)
    with torch.no_grad():
        assert torch.equal(m.spynet(a, b), torch.zeros(2, 2, 20, 24))
        assert create_model("basicvsr.tiny").eval().spynet(a, b).abs().max() > 0  # default: random flow
    # still trainable: every SPyNet level's last conv gets a gradient
    m.train()
    m.spynet(a, b).sum().backward()
    assert all(level.basic_module[-1].conv.weight.grad.abs().sum() > 0 for level in m.spynet.basic_module)
