"""Screen tables: one place for how every page shows a frame."""

from __future__ import annotations

from typing import Any

import streamlit as st

MISSING = "—"
"""What an empty cell shows (as the KPI tiles, slides and PDF write a missing value), never "None"."""


def frame(data: Any, **options: Any) -> Any:
    """``st.dataframe`` with empty cells shown as a dash."""
    options.setdefault("placeholder", MISSING)
    return st.dataframe(data, **options)
