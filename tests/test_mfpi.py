"""MFPI (our interpretation of SFE + EFE on BasicVSR++): the BasicVSR++ trunk stays exact, the
modules' transforms, the flags, and the parameter / FLOP deltas against the survey's tables."""

from __future__ import annotations

import pytest
import torch

from freqvsr.errors import ModelError
from freqvsr.models import create_model, get_spec
from freqvsr.models.basicvsrpp import BasicVSRPlusPlus
from freqvsr.models.mfpi import (
    MFPI,
    EnergyFrequencyEnhancement,
    SpatialFrequencyEnhancement,
    paper_protocol_flops,
    simam_energy,
)

TINY = {"mid_channels": 8, "num_blocks": 1}


def _clip(seed: int = 0) -> torch.Tensor:
    return torch.rand(1, 3, 3, 20, 28, generator=torch.Generator().manual_seed(seed))


def test_modules_off_is_basicvsrpp():
    torch.manual_seed(0)
    base = BasicVSRPlusPlus(**TINY).eval()
    off = MFPI(**TINY, sfe=False, efe=False).eval()
    assert list(off.state_dict()) == list(base.state_dict())
    off.load_state_dict(base.state_dict())
    with torch.no_grad():
        assert torch.equal(off(_clip()), base(_clip()))


@pytest.mark.parametrize("placement", ["spatial", "reconstruction"])
def test_untrained_mfpi_computes_exactly_basicvsrpp(placement):
    """zero_init (the default): the depth-wise convs start at 0, so the residual slices are unchanged
    and a BasicVSR++ checkpoint is an exact starting point."""
    torch.manual_seed(0)
    base = BasicVSRPlusPlus(**TINY).eval()
    model = MFPI(**TINY, sfe_channels=3, efe_channels=4, sfe_filter_size=16, placement=placement).eval()
    missing, unexpected = model.load_state_dict(base.state_dict(), strict=False)
    assert not unexpected and all(k.startswith(("sfe.", "efe.")) for k in missing)
    with torch.no_grad():
        assert torch.equal(model(_clip()), base(_clip()))


def test_trained_modules_change_only_their_slices():
    torch.manual_seed(0)
    model = MFPI(**TINY, sfe_channels=2, efe_channels=3, sfe_filter_size=8, zero_init=False).eval()
    feat = torch.rand(2, 8, 12, 20)
    with torch.no_grad():
        out = model.enhance(feat)
    assert not torch.equal(out[:, :2], feat[:, :2]) and not torch.equal(out[:, 2:5], feat[:, 2:5])
    assert torch.equal(out[:, 5:], feat[:, 5:])


def test_sfe_identity_filter_and_resizing():
    torch.manual_seed(0)
    sfe = SpatialFrequencyEnhancement(3, kernel=5, filter_size=16).double()
    x = torch.rand(2, 3, 16, 16, dtype=torch.float64)
    spec = torch.fft.rfft2(x, norm="ortho")
    back = torch.fft.irfft2(spec * sfe.spectral_gain(16, 16), s=(16, 16), norm="ortho")
    assert (back - x).abs().max() < 1e-12
    assert sfe.spectral_gain(16, 16) is sfe.filter  # the training size uses the parameter as it is
    # other sizes: resized over the centred plane; a constant filter stays constant
    assert sfe.spectral_gain(23, 30).shape == (3, 23, 16)
    assert torch.allclose(sfe.spectral_gain(23, 30), torch.ones(3, 23, 16, dtype=torch.float64))
    with torch.no_grad():
        sfe.filter[:, 0, 0] = 0.0  # no DC: the filtered map has zero mean per channel
    y = torch.fft.irfft2(torch.fft.rfft2(x, norm="ortho") * sfe.spectral_gain(16, 16), s=(16, 16), norm="ortho")
    assert y.mean(dim=(-2, -1)).abs().max() < 1e-12
    complex_sfe = SpatialFrequencyEnhancement(3, kernel=5, filter_size=16, filter_kind="complex")
    assert complex_sfe.spectral_gain(20, 12).dtype == torch.complex64
    out = complex_sfe(torch.rand(1, 3, 20, 12))
    assert out.shape == (1, 3, 20, 12)


def test_efe_transform_and_energy():
    torch.manual_seed(0)
    efe = EnergyFrequencyEnhancement(4, kernel=3, energy="none", zero_init=False).double()
    with torch.no_grad():
        efe.conv.weight.zero_()
        efe.conv.weight[:, :, 1, 1] = 1.0  # identity tap: the output is the filtered map
        efe.conv.bias.zero_()
    x = torch.rand(1, 4, 13, 19, dtype=torch.float64)  # not multiples of 8: padded and cropped
    assert (efe(x) - x).abs().max() < 1e-12  # identity filter
    w = simam_energy(x)
    assert w.shape == x.shape and torch.all((w / x > 0.6) & (w / x < 1.0))  # sigmoid(>= 0.5) in (0.62, 1)


def test_gradients_reach_the_filters():
    torch.manual_seed(0)
    model = create_model("mfpi.tiny")
    out = model(_clip())
    out.square().mean().backward()
    assert model.sfe.filter.grad.abs().sum() > 0 and model.efe.filter.grad.abs().sum() > 0


def test_flag_errors():
    with pytest.raises(ModelError, match="exceed mid_channels"):
        MFPI(**TINY)  # 7 + 13 channels do not fit 8
    with pytest.raises(ModelError, match="placement"):
        MFPI(**TINY, sfe_channels=2, efe_channels=2, placement="head")
    with pytest.raises(ModelError, match="merge"):
        MFPI(**TINY, sfe_channels=2, efe_channels=2, merge="concat")
    with pytest.raises(ModelError, match="sfe_filter"):
        SpatialFrequencyEnhancement(2, filter_kind="polar")
    model = MFPI(**TINY, sfe_channels=2, efe_channels=2, sfe_filter_size=8, merge="replace", energy="none")
    with torch.no_grad():
        assert model(_clip()).shape == (1, 3, 3, 80, 112)


def _built(name: str):
    spec = get_spec(name)
    with torch.device("meta"):
        return spec.builder(**spec.args)


def test_complexity_matches_the_survey_tables():
    """Survey: base 7.32 M / 280.59 G; +SFE 7.34 M / 280.76 G; +EFE 7.33 M / 280.68 G; both 7.34 M /
    280.86 G, at one 180x320 frame (the protocol under which BasicVSR++ is exactly 280,588,492,800)."""
    params = {n: sum(p.numel() for p in _built(n).parameters()) for n in ("basicvsr++", "mfpi.sfe", "mfpi.efe", "mfpi")}
    flops = {n: paper_protocol_flops(_built(n)) for n in params}
    print("\n" + "\n".join(f"{n}: {params[n]:,} params, {flops[n] / 1e9:.3f} G" for n in params))
    assert params["basicvsr++"] == 7_322_927 and flops["basicvsr++"] == 280_588_492_800
    # parameters: the table's two-decimal millions
    assert [round(params[n] / 1e6, 2) for n in ("mfpi.sfe", "mfpi.efe", "mfpi")] == [7.34, 7.33, 7.34]
    # FLOPs: EFE and SFE+EFE round to the table; SFE (7 channels) is 0.008 G above its 280.76
    assert round(flops["mfpi.efe"] / 1e9, 2) == 280.68
    assert round(flops["mfpi"] / 1e9, 2) == 280.86
    assert abs(flops["mfpi.sfe"] / 1e9 - 280.76) < 0.01
