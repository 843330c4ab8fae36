"""Shared pytest fixtures. Fixture code lives in helper modules (e.g. ``tests/clips.py``);
this file only registers them so several areas can add their own without editing each other's."""

from clips import carphone, clip_with_audio, small_clip, vfr_clip  # noqa: F401  (fixtures)

import torch  # noqa: E402

# Tiny convolutions run 5-15x faster single-threaded than fighting over 2 shared cores.
torch.set_num_threads(1)
