"""Perceptual loss for FastRealVSR's second training stage (L1 + perceptual + GAN).

Two forms, chosen by whether VGG-19 weights are given:

**VGG-19 feature loss** (``PerceptualLoss(vgg_path=...)``), as in Real-ESRGAN's configuration:
L1 distances between VGG-19 feature maps of the output and the ground truth, summed over layers
with weights conv1_2: 0.1, conv2_2: 0.1, conv3_4: 1, conv4_4: 1, conv5_4: 1. Features are the conv
outputs *before* their ReLU (BasicSR's ``VGGFeatureExtractor`` naming), inputs in [0, 1] are
normalised with the ImageNet mean/std, max pooling, and the network is frozen (no gradients to its
weights, target features computed without autograd). Weights cannot be downloaded here: pass the
path of a VGG-19 state dict in torchvision's layout (``features.N.weight`` / ``features.N.bias``,
e.g. ``vgg19-dcbb9e9d.pth``; ``.pth``/``.pt`` via ``torch.load(weights_only=True)`` or
``.safetensors``). The ``features`` stack is rebuilt here (torchvision is not a dependency) with
the same module indices, so the keys map 1:1; ``classifier.*`` keys are ignored. A missing file or
wrong keys/shapes raise :class:`~freqvsr.errors.ModelError` naming the file.

**No-download fallback** (``vgg_path=None``): a Laplacian-pyramid L1 loss (:class:`LaplacianPyramidLoss`),
after Bojanowski et al.'s Lap1 loss ("Optimizing the Latent Space of Generative Networks", ICML
2018), which they proposed as a perceptual-loss substitute that needs no pretrained network. Each
image is split into octave band-pass images (Gaussian 5×5 σ=1 blur, ``band_j = g_j - blur(g_j)``,
``g_{j+1} = blur(g_j)[::2, ::2]``) plus the final low-pass ``g_J``; the loss is
``Σ_j 2^-j · mean|Δband_j| + 2^-J · mean|Δg_J|``. Our weighting (Lap1's differs) halves the
weight per octave, so the finest detail counts most and a uniform intensity error of the same
pixel-L1 size counts ~30× less than white noise — the colour/low-frequency fidelity is the L1
term's job. Why this and not a randomly-initialised VGG: (1) it is deterministic maths, identical
on every machine and torch version, whereas random VGG features change with the RNG and
initialiser; (2) it costs a few depthwise convolutions instead of ~20 GFLOPs per 256² image;
(3) what stage 2 needs from its perceptual term is that errors in fine detail are not swamped by
low-frequency error (pixel L1 is dominated by the latter and trains towards blur); weighting the
octaves does exactly that, transparently. It is *not* a learned perceptual metric and has no
texture prior; realism of texture is left to the GAN term. Results trained with it are not
comparable with the paper's; say which form was used (``PerceptualLoss.kind``) when reporting.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from freqvsr.errors import CheckpointNotFoundError, ModelError
from freqvsr.functional.filters import depthwise_filter, gaussian_kernel

# torchvision's VGG-19 ``features`` configuration ("E"): channels per conv, "M" = 2x2 max pool.
_VGG19_CFG: tuple[int | str, ...] = (
    64,
    64,
    "M",
    128,
    128,
    "M",
    256,
    256,
    256,
    256,
    "M",
    512,
    512,
    512,
    512,
    "M",
    512,
    512,
    512,
    512,
    "M",
)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# Real-ESRGAN (and BasicSR's ESRGAN/Real-ESRNet options): perceptual layer weights.
REAL_ESRGAN_LAYER_WEIGHTS = {"conv1_2": 0.1, "conv2_2": 0.1, "conv3_4": 1.0, "conv4_4": 1.0, "conv5_4": 1.0}


def vgg19_layer_names() -> list[str]:
    """Names of the modules of torchvision's ``vgg19().features``, by index (conv1_1, relu1_1, ...)."""
    names, block, conv = [], 1, 1
    for v in _VGG19_CFG:
        if v == "M":
            names.append(f"pool{block}")
            block, conv = block + 1, 1
        else:
            names += [f"conv{block}_{conv}", f"relu{block}_{conv}"]
            conv += 1
    return names


class VGG19Features(nn.Module):
    """torchvision's ``vgg19().features`` up to ``last_layer``, returning the named layers' outputs.

    Module indices equal torchvision's, so ``features.N.weight`` keys load unchanged.
    """

    def __init__(self, layers: list[str], use_input_norm: bool = True) -> None:
        super().__init__()
        names = vgg19_layer_names()
        unknown = [n for n in layers if n not in names]
        if unknown:
            raise ValueError(f"unknown VGG-19 layer(s) {', '.join(unknown)}; known: {', '.join(names)}")
        self.layers = list(layers)
        self.last = max(names.index(n) for n in layers)
        modules: list[nn.Module] = []
        cin = 3
        for v in _VGG19_CFG:
            if v == "M":
                modules.append(nn.MaxPool2d(2, 2))
            else:
                modules += [nn.Conv2d(cin, int(v), 3, 1, 1), nn.ReLU(inplace=False)]
                cin = int(v)
        self.names = names[: self.last + 1]
        self.features = nn.Sequential(*modules[: self.last + 1])
        self.use_input_norm = use_input_norm
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def conv_indices(self) -> list[int]:
        return [i for i, m in enumerate(self.features) if isinstance(m, nn.Conv2d)]

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.use_input_norm:
            x = (x - self.mean) / self.std
        out = {}
        for name, module in zip(self.names, self.features, strict=True):
            x = module(x)
            if name in self.layers:
                out[name] = x
        return out


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise CheckpointNotFoundError(f"VGG-19 weights file {path} does not exist")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            obj = load_file(str(path))
        else:
            obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any reader failure is "not a readable state dict"
        first = (str(exc).strip().splitlines() or [""])[0]
        raise ModelError(
            f"VGG-19 weights file {path} cannot be read as a state dict ({type(exc).__name__}: {first})"
        ) from None
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise ModelError(f"VGG-19 weights file {path} holds a {type(obj).__name__}, not a state dict")
    state = {k.removeprefix("module."): v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    # `vgg.features.state_dict()` saved on its own has keys "0.weight": accept it as the same layout.
    if state and not any(k.startswith("features.") for k in state) and all(k.split(".")[0].isdigit() for k in state):
        state = {f"features.{k}": v for k, v in state.items()}
    return state


def load_vgg19_features(model: VGG19Features, path: str | os.PathLike) -> VGG19Features:
    """Load torchvision-layout VGG-19 weights into ``model`` (keys ``features.N.*`` map 1:1)."""
    path = Path(path)
    state = _read_state_dict(path)
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    if missing:
        raise ModelError(
            f"VGG-19 weights file {path} does not have torchvision's layout: missing {', '.join(missing[:4])}"
            + (f" and {len(missing) - 4} more" if len(missing) > 4 else "")
            + " (expected keys like features.0.weight)"
        )
    bad = [
        f"{k} {tuple(state[k].shape)} (expected {tuple(v.shape)})" for k, v in own.items() if state[k].shape != v.shape
    ]
    if bad:
        raise ModelError(f"VGG-19 weights file {path} has wrong shapes: {', '.join(bad[:3])}")
    model.load_state_dict({k: state[k].float() for k in own}, strict=True)
    return model


class LaplacianPyramidLoss(nn.Module):
    """``Σ_j 2^-j · mean|Δband_j|`` over a Laplacian pyramid plus the low-pass (see module doc)."""

    def __init__(self, levels: int = 5) -> None:
        super().__init__()
        if levels < 1:
            raise ValueError(f"levels must be >= 1, got {levels}")
        self.levels = levels
        self.register_buffer("kernel", gaussian_kernel(5, 1.0), persistent=False)

    def bands(self, x: torch.Tensor) -> list[torch.Tensor]:
        out, g = [], x
        for _ in range(self.levels):
            if min(g.shape[-2:]) < 2:
                break
            blurred = depthwise_filter(g, self.kernel, "replicate")
            out.append(g - blurred)
            g = blurred[..., ::2, ::2]
        out.append(g)  # the low-pass residual
        return out

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        pb, tb = self.bands(pred), self.bands(target.detach())
        # the low-pass residual keeps the weight of the last band level it came from
        weights = [2.0**-j for j in range(len(pb) - 1)] + [2.0 ** -(len(pb) - 1)]
        return sum(w * F.l1_loss(a, b) for w, a, b in zip(weights, pb, tb, strict=True))


class PerceptualLoss(nn.Module):
    """``forward(pred, target) -> perceptual_weight * loss`` for (N, 3, H, W) images in [0, 1].

    Args:
        vgg_path: torchvision-layout VGG-19 state dict; ``None`` selects the Laplacian-pyramid
            fallback (``kind == "laplacian"``, see the module docstring), else ``kind == "vgg19"``.
        layer_weights: VGG layer name -> weight; default Real-ESRGAN's.
        perceptual_weight: overall factor (FastRealVSR stage 2: 1).
        use_input_norm: ImageNet mean/std normalisation of the [0, 1] inputs (Real-ESRGAN: on).
        levels: pyramid levels of the fallback.
    """

    def __init__(
        self,
        vgg_path: str | os.PathLike | None = None,
        layer_weights: dict[str, float] | None = None,
        perceptual_weight: float = 1.0,
        use_input_norm: bool = True,
        levels: int = 5,
    ) -> None:
        super().__init__()
        self.perceptual_weight = perceptual_weight
        self.layer_weights = dict(layer_weights or REAL_ESRGAN_LAYER_WEIGHTS)
        self.vgg: VGG19Features | None = None
        self.pyramid: LaplacianPyramidLoss | None = None
        if vgg_path is None:
            self.kind = "laplacian"
            self.pyramid = LaplacianPyramidLoss(levels)
        else:
            self.kind = "vgg19"
            self.vgg = load_vgg19_features(VGG19Features(list(self.layer_weights), use_input_norm), vgg_path)
            self.vgg.eval()
            for p in self.vgg.parameters():
                p.requires_grad_(False)

    def train(self, mode: bool = True) -> PerceptualLoss:
        super().train(mode)
        if self.vgg is not None:
            self.vgg.eval()  # a fixed feature extractor: never in training mode
        return self

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if pred.shape != target.shape:
            raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} must have the same shape")
        if self.vgg is None:
            return self.perceptual_weight * self.pyramid(pred, target)
        pred_feats = self.vgg(pred)
        with torch.no_grad():
            target_feats = self.vgg(target.detach())
        loss = sum(w * F.l1_loss(pred_feats[k], target_feats[k]) for k, w in self.layer_weights.items())
        return self.perceptual_weight * loss
