"""Exceptions that the CLI turns into one clear line and an exit status.

Every error a user can cause raises a subclass of :class:`FreqVSRError` whose message names the
file and the problem. The CLI prints ``freqvsr: error: <message>`` and exits with ``exit_code``.
"""

from __future__ import annotations


class FreqVSRError(Exception):
    """Base class: a failure we can explain in one line (exit status 1)."""

    exit_code = 1


class UsageError(FreqVSRError):
    """Bad command-line usage or bad arguments to an API call (exit status 2)."""

    exit_code = 2


class InputError(FreqVSRError):
    """An input file or folder cannot be read: missing, not a video, truncated, no frames."""


class OutputError(FreqVSRError):
    """The output cannot be written: unwritable folder, would overwrite an input, encoder refused."""


class ModelError(FreqVSRError):
    """Unknown model, bad checkpoint, wrong architecture or scale, unknown constructor override."""


class MissingDependencyError(FreqVSRError):
    """An optional dependency is not installed; the message names the package to install."""


class Interrupted(KeyboardInterrupt):
    """The job was stopped by SIGINT (Ctrl-C) or SIGTERM after cleaning up; exit 128 + signal.

    A ``KeyboardInterrupt`` so that code catching ``Exception`` lets it through, as it would
    a plain Ctrl-C.
    """

    def __init__(self, signum: int, resumable: bool = False) -> None:
        import signal

        self.signum = int(signum)
        self.exit_code = 128 + self.signum
        self.resumable = resumable
        name = signal.Signals(self.signum).name
        super().__init__(f"interrupted by {name}")
