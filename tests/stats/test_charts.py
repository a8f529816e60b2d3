"""The chart module on its own: what pygal leaves behind in the process."""

from __future__ import annotations

import importlib
import sys

import pytest


def test_pygal_leaves_no_legacy_finder_on_the_import_path():
    importlib.import_module("engage.stats.charts")
    assert all(hasattr(finder, "find_spec") for finder in sys.meta_path)
    with pytest.raises(ImportError):  # not an ImportWarning turned into an error
        importlib.import_module("engage_no_such_module")
