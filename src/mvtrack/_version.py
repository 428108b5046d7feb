"""The package version, at the bottom floor: any module may import it (the package root imports the
pipeline lazily, so taking the version from ``mvtrack`` itself would run upward).

From the installed distribution's metadata (``pyproject.toml`` ``version``); a source tree used without
installing (``PYTHONPATH=src``) reads ``pyproject.toml`` beside it.
"""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path


def _from_pyproject() -> str:
    try:
        text = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    except OSError:
        return "0+unknown"
    found = re.search(r'^version\s*=\s*"([^"]+)"', text, re.MULTILINE)
    return found.group(1) if found else "0+unknown"


try:
    __version__ = version("mvtrack")
except PackageNotFoundError:  # not installed: a source checkout on the path
    __version__ = _from_pyproject()
