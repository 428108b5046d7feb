"""Guess the long-axis view (2CH / 4CH) from series text or folder names.

Spellings seen from Siemens, Philips and GE protocols: "2ch", "2 ch", "2-CH", "2CV", "VLA"
(vertical long axis), "2 chamber", "LAX 2"; "4ch", "4CV", "HLA" (horizontal long axis),
"four chamber", "LAX 4"; "3ch", "3CV", "three chamber", "LVOT" with ``with_3ch`` (a series' view
guess), else "unknown".
"""

from __future__ import annotations

import re

from mvtrack.io.cine import UNKNOWN_VIEW

_PATTERNS = [
    ("3CH", re.compile(r"(?<![0-9])3\s*[-_ ]?\s*(ch|cv|chamber)|three\s*[-_ ]?chamber|lvot|(?<![a-z])3cv", re.I)),
    ("2CH", re.compile(r"(?<![0-9])2\s*[-_ ]?\s*(ch|cv|chamber|k)|two\s*[-_ ]?chamber|(?<![a-z])vla(?![a-z])|lax\s*[-_ ]?2(?![0-9])", re.I)),
    ("4CH", re.compile(r"(?<![0-9])4\s*[-_ ]?\s*(ch|cv|chamber|k)|four\s*[-_ ]?chamber|(?<![a-z])hla(?![a-z])|lax\s*[-_ ]?4(?![0-9])", re.I)),
]


def view_from_text(text: str, with_3ch: bool = False) -> str:
    """Return "2CH", "4CH" or "unknown" for a SeriesDescription, ProtocolName or folder name;
    with ``with_3ch`` also "3CH" (as a series' view guess does; without it a 3CH name is "unknown")."""
    if not text:
        return UNKNOWN_VIEW
    for view, pattern in _PATTERNS:
        if pattern.search(text):
            return view if view != "3CH" or with_3ch else UNKNOWN_VIEW
    return UNKNOWN_VIEW


def guess_view(candidates: list[tuple[str, str]]) -> tuple[str, str]:
    """First recognised view (2CH, 4CH or 3CH) among ``(source_label, text)`` candidates, with where
    it came from."""
    for label, text in candidates:
        view = view_from_text(text, with_3ch=True)
        if view != UNKNOWN_VIEW:
            return view, f"{label} {text!r}"
    return UNKNOWN_VIEW, "no keyword in SeriesDescription, ProtocolName or folder names"
