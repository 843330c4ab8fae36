"""Networks, their registry, factory and self-describing checkpoints.

Each architecture module is imported here by name so that its ``register_model`` calls run.
Importing this package never imports PyAV, OpenCV, data or degrade code.
"""

from freqvsr.models._base import VSRModel
from freqvsr.models._registry import ModelSpec, get_spec, list_models, register_model

# Architecture modules, in the order `freqvsr models` lists them. Keep this list explicit.
from freqvsr.models import bicubic as _bicubic  # noqa: F401,E402
from freqvsr.models import basicvsr as _basicvsr  # noqa: F401,E402
from freqvsr.models import basicvsrpp as _basicvsrpp  # noqa: F401,E402
from freqvsr.models import iconvsr as _iconvsr  # noqa: F401,E402
from freqvsr.models import mfpi as _mfpi  # noqa: F401,E402
from freqvsr.models import ftvsr as _ftvsr  # noqa: F401,E402
from freqvsr.models import ftvsrpp as _ftvsrpp  # noqa: F401,E402
from freqvsr.models import fcvsr as _fcvsr  # noqa: F401,E402
from freqvsr.models import fastrealvsr as _fastrealvsr  # noqa: F401,E402

from freqvsr.models._factory import create_model  # noqa: E402
from freqvsr.models._checkpoint import load_checkpoint, save_checkpoint  # noqa: E402

__all__ = [
    "VSRModel",
    "ModelSpec",
    "create_model",
    "get_spec",
    "list_models",
    "load_checkpoint",
    "register_model",
    "save_checkpoint",
]
