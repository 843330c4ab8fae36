"""Shared pytest fixtures. Fixture code lives in helper modules (e.g. ``tests/clips.py``);
this file only registers them so several areas can add their own without editing each other's."""

from clips import carphone, clip_with_audio, small_clip, vfr_clip  # noqa: F401  (fixtures)
