"""The registry polices the catalog: ids, documentation, and that every KPI evaluates everywhere."""

from __future__ import annotations

import re

import polars as pl
import pytest

import kpi_core as K
from kpi_core.registry import HELPERS, SCOPES, catalog_markdown, dependencies
from tests.conftest import ROOT, SHARED

CATALOG_DOC = SHARED / "docs" / "kpi-catalog.md"


def catalog_ids() -> list[str]:
    ids: list[str] = []
    for line in CATALOG_DOC.read_text().splitlines():
        cell = line.split("|")[1].strip() if line.startswith("| ") else ""
        if cell and cell != "id" and not cell.startswith("-"):
            ids += [part.strip() for part in cell.split("/")]
    return ids


def test_ids_are_unique_and_match_the_catalog() -> None:
    ids = [k.id for k in K.REGISTRY]
    assert len(ids) == len(set(ids))
    assert [i for i in ids if i not in {"calls", "emails", "meetings"}] == [
        i for i in catalog_ids() if i not in {"calls", "emails", "meetings"}
    ]
    assert {"calls", "emails", "meetings"} <= set(ids)
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", i) for i in ids)


@pytest.mark.parametrize("kpi", K.REGISTRY, ids=lambda k: k.id)
def test_every_kpi_is_documented(kpi: K.KPI) -> None:
    assert len(kpi.meaning) > 60 and kpi.meaning.endswith(".")
    assert kpi.label and kpi.formula and kpi.category in {"revenue", "activity", "pipeline", "customer"}
    assert kpi.indicator in {"leading", "lagging"} and kpi.kind in {"input", "output"}
    assert kpi.direction in {"up", "down", "neutral"}
    assert kpi.scope in SCOPES
    if kpi.scope not in ("derived", "growth", "snapshots"):
        assert kpi.required_columns(), "required columns come from the expression"
    else:
        assert kpi.scope == "snapshots" or dependencies(kpi)


def test_required_columns_are_derived_from_the_expression() -> None:
    assert K.get("won_revenue").required_columns() == ["amount", "close_date", "stage"]
    assert K.get("sales_cycle_days").required_columns() == ["close_date", "created_date", "stage"]
    assert K.get("lead_response_hours").required_columns() == ["created_at", "first_response_at"]
    assert dependencies(K.get("ltv_cac_ratio")) == [
        "_spend",
        "new_customers",
        "cac",
        "_arpa",
        "_monthly_churn",
        "profit_margin",
        "cltv",
    ]


def test_helpers_are_internal() -> None:
    assert all(h.internal and h.id.startswith("_") for h in HELPERS)
    assert not any(k.internal for k in K.REGISTRY)


def test_every_kpi_but_forecast_accuracy_is_computable_on_the_sample(sample: K.Dataset) -> None:
    result = K.report(sample, grain="quarter")
    assert result.unavailable.keys() == {"forecast_accuracy"}
    shown = set(result.frame["kpi"])
    assert shown == {k.id for k in K.REGISTRY} - {"forecast_accuracy"}
    assert result.frame.filter(pl.col("value").is_null()).height == 0


@pytest.mark.parametrize(
    "dim",
    [
        "region",
        "product",
        "owner",
        "team",
        "manager",
        "segment",
        "lead_source",
        "deal_type",
        "pipeline",
        "industry",
        "family",
    ],
)
def test_every_kpi_evaluates_by_each_dimension_or_says_why(sample: K.Dataset, dim: str) -> None:
    result = K.report(sample, grain="month", by=[dim])
    computed = set(result.frame["kpi"])
    assert computed | set(result.unavailable) == {k.id for k in K.REGISTRY}
    assert not computed & set(result.unavailable)
    for kpi, reason in result.unavailable.items():
        assert kpi == "forecast_accuracy" or dim in reason or "needs" in reason, reason
    # every segment value of the dimension appears for the deal KPIs
    values = set(sample.table("deals").get_column(dim).drop_nulls().cast(pl.String).unique())
    assert set(result.frame.filter(pl.col("kpi") == "won_revenue")[dim]) <= values
    assert len(set(result.frame.filter(pl.col("kpi") == "new_opportunities")[dim])) == len(values)


def test_readme_catalog_is_generated_from_the_registry() -> None:
    readme = (ROOT / "README.md").read_text()
    block = readme.split("<!-- catalog:start -->\n", 1)[1].split("<!-- catalog:end -->", 1)[0]
    assert block == catalog_markdown(), "README's KPI table drifted: run `python -m kpi_core catalog` and paste it"
