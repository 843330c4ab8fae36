"""Training: typed YAML recipes, one readable loop, exact resume, DDP, SPyNet pretraining.

* :mod:`~freqvsr.train.config` -- YAML -> frozen dataclasses (:class:`Config`), typed ``a.b=1`` overrides.
* :mod:`~freqvsr.train.loop` -- :func:`train` (AMP, clipping, EMA, per-module lr, freezing,
  validation, best checkpoint, logging, exact resume, DistributedDataParallel under torchrun).
* :mod:`~freqvsr.train.data` -- synthetic clips and the resumable, rank-sliced batch stream;
  :mod:`~freqvsr.train.procedural` -- textures moved along known motion (no files needed).
* :mod:`~freqvsr.train.spynet_pretrain` -- SPyNet pretraining on synthetic pairs with exact flow.

Nothing else in freqvsr imports this package (only ``cli``).
"""

from freqvsr.train.config import Config, apply_override, config_from_dict, load_config
from freqvsr.train.loop import TrainResult, train

__all__ = ["Config", "TrainResult", "apply_override", "config_from_dict", "load_config", "train"]
