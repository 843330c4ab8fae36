"""The one place the package version is written.

Read by ``pyproject.toml`` (``[tool.setuptools.dynamic]``), re-exported as ``freqvsr.__version__``,
and imported directly by modules that record it (checkpoint headers, the HTML report): they may not
import the package root, whose lazy attributes would pull in the whole API.
"""

__version__ = "0.1.0"
