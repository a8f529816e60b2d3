"""CSV cells that a spreadsheet shows as text, never runs.

A cell starting with `=`, `+`, `-` or `@` (or a tab, carriage return, `|` or `%`, which some
spreadsheets also read as the start of a formula or a command) is a formula to Excel,
LibreOffice and Google Sheets: an address or a server reply an attacker chose could run one on
the editor's machine. Such a cell gets a leading apostrophe.
"""

from __future__ import annotations

from datetime import datetime

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "|", "%")


def safe_cell(value: object) -> str:
    """`value` as CSV text (a datetime in ISO 8601); one that would start a formula gets `'`."""
    text = "" if value is None else value.isoformat() if isinstance(value, datetime) else str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text
