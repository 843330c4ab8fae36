"""Training and evaluation data: clip datasets, the training corpus, the evaluation set.

* :mod:`~freqvsr.data.dataset` -- :class:`ClipDataset` (paired LQ/GT samples, LQ from disk or made
  on the fly by a :mod:`freqvsr.degrade` preset; crops, flips, transposes, reversal; deterministic
  per ``(seed, epoch, index)``), the layout datasets (:class:`REDSDataset`, :class:`Vimeo90KDataset`,
  :class:`Vid4Dataset`, :class:`FolderDataset`), :func:`collate_clips`, :class:`SeededSampler`.
* :mod:`~freqvsr.data.clips` -- clip scanners for those layouts; :mod:`~freqvsr.data.frame_access` --
  random access to frames of image folders and videos (seeking).
* :mod:`~freqvsr.data.camera_motion` -- camera-motion clips from photographs with exact optical flow;
  :class:`FlowClipDataset` (:mod:`~freqvsr.data.flow_dataset`) serves them (frames + flow + validity)
  for flow-network pretraining.
* :mod:`~freqvsr.data.corpus` -- ``freqvsr data build-corpus`` (packages fetched and unpacked by
  :mod:`~freqvsr.data.debian`); :mod:`~freqvsr.data.evalset` --
  ``freqvsr data build-evalset`` and :class:`EvalSetDataset`.
* :mod:`~freqvsr.data.pack` -- training packs (HR crops + pre-degraded LR, numpy only to read):
  :func:`build_pack`, :class:`PackDataset` (data kind ``pack``).
"""

from freqvsr.data.camera_motion import MotionConfig, SyntheticClip, synthetic_clip
from freqvsr.data.clips import (
    REDS4_CLIPS,
    Clip,
    corpus_clips,
    folder_clips,
    reds_clips,
    vid4_clips,
    vimeo90k_clips,
)
from freqvsr.data.dataset import (
    Augment,
    ClipDataset,
    FolderDataset,
    REDSDataset,
    SeededSampler,
    Vid4Dataset,
    Vimeo90KDataset,
    collate_clips,
)
from freqvsr.data.flow_dataset import FlowClipDataset
from freqvsr.data.frame_access import ImageFrames, VideoFrames, read_image
from freqvsr.data.pack import PackDataset, build_pack
from freqvsr.data.seeding import sample_generator, stable_seed, worker_init_fn
from freqvsr.data.store import StoreDataset, build_store

__all__ = [
    "REDS4_CLIPS",
    "Augment",
    "Clip",
    "ClipDataset",
    "FlowClipDataset",
    "FolderDataset",
    "ImageFrames",
    "MotionConfig",
    "PackDataset",
    "REDSDataset",
    "SeededSampler",
    "StoreDataset",
    "SyntheticClip",
    "Vid4Dataset",
    "VideoFrames",
    "Vimeo90KDataset",
    "build_pack",
    "build_store",
    "collate_clips",
    "corpus_clips",
    "folder_clips",
    "read_image",
    "reds_clips",
    "sample_generator",
    "stable_seed",
    "synthetic_clip",
    "vid4_clips",
    "vimeo90k_clips",
    "worker_init_fn",
]
