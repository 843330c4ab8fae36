"""Exceptions that the CLI turns into one clear line and an exit status.

Every error a user can cause raises a subclass of :class:`FreqVSRError` whose message names the
file and the problem. The CLI prints ``freqvsr: error: <message>`` and exits with ``exit_code``.

Each one is also the builtin a Python caller would reach for, so ``except ValueError`` around
``create_model("nope")`` or ``except FileNotFoundError`` around ``upscale_video("missing.mp4", ...)``
work without knowing freqvsr's classes:

======================  ==========================================  =========================
class                   raised for                                  also a
======================  ==========================================  =========================
UsageError              a bad argument value or combination         ValueError
InputError              an input that cannot be read                ValueError
InputNotFoundError      an input path that does not exist           FileNotFoundError
ModelError              unknown model, bad checkpoint, wrong scale  ValueError
CheckpointNotFoundError a weights/checkpoint file that is missing   FileNotFoundError
MissingDependencyError  an optional package that is not installed   ImportError
ResourceError           a job that cannot fit its memory budget     MemoryError
OutputError             an output that cannot be written            (none: see below)
======================  ==========================================  =========================

OutputError stays apart from ``OSError`` on purpose: the writers turn the ``OSError`` of a full
disk into an OutputError, and an ``except OSError`` there must not catch our own message again.

Messages name an API parameter as ``name=value`` (``chunk=0: must be at least 1``), never a
command-line flag: the CLI rewrites those names into its flags (``--chunk 0: ...``).
"""

from __future__ import annotations


class FreqVSRError(Exception):
    """Base class: a failure we can explain in one line (exit status 1)."""

    exit_code = 1


class UsageError(FreqVSRError, ValueError):
    """Bad command-line usage or bad arguments to an API call (exit status 2)."""

    exit_code = 2


class InputError(FreqVSRError, ValueError):
    """An input file or folder cannot be read: not a video, truncated, no frames."""


class InputNotFoundError(InputError, FileNotFoundError):
    """An input file or folder does not exist."""


class OutputError(FreqVSRError):
    """The output cannot be written: unwritable folder, would overwrite an input, encoder refused."""


class ModelError(FreqVSRError, ValueError):
    """Unknown model, bad checkpoint, wrong architecture or scale, unknown constructor override."""


class CheckpointNotFoundError(ModelError, FileNotFoundError):
    """A weights or checkpoint file does not exist."""


class MissingDependencyError(FreqVSRError, ImportError):
    """An optional dependency is not installed; the message names the package (or extra) to install."""


class ResourceError(FreqVSRError, MemoryError):
    """A job cannot run within its memory budget (e.g. the output frames of a very large input);
    the message says what it needs and what would fit."""


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
