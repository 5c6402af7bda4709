"""The app through app.py, headless (AppTest)."""

from __future__ import annotations

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

import kpi_core as K
from kpi_core.formatting import format_value
from tests.conftest import ROOT


@pytest.fixture(autouse=True)
def _fresh_caches() -> None:
    import streamlit as st

    st.cache_data.clear()


def test_scorecard_shows_the_engines_numbers(sample: K.Dataset) -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert not at.exception
    shown = {m.label: m.value for m in at.metric}
    frame = K.evaluate(sample, grain="quarter").filter(pl.col("stage").is_null())
    expected = {
        K.get(r["kpi"]).label: format_value(r["value"], r["unit"], "USD", compact=True)
        for r in frame.iter_rows(named=True)
    }
    assert shown == expected
    assert len(shown) == len(K.REGISTRY) - 3  # all but forecast accuracy and the two per-stage KPIs


def test_grain_change_recomputes(sample: K.Dataset) -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    at.selectbox(key="grain").set_value("month").run()
    assert not at.exception
    revenue = K.evaluate(sample, ["won_revenue"], grain="month")["value"][0]
    assert {m.label: m.value for m in at.metric}["Total revenue (won)"] == format_value(
        revenue, "currency", compact=True
    )
    assert "2026-11" in at.caption[0].value
