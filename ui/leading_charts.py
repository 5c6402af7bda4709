"""Chart builders for what leads revenue and why it changed: tidy frames in, Altair charts out. No ``st.*`` here."""

from __future__ import annotations

from datetime import timedelta

import altair as alt
import polars as pl

from kpi_core.formatting import money
from ui.charts import BAD, GOOD, PALETTE

MUTED = "#B8B8B8"


def _themed(chart: alt.Chart | alt.LayerChart | alt.FacetChart) -> alt.Chart:
    return (
        chart.configure_axis(labelFontSize=12, titleFontSize=12, grid=False)
        .configure_view(strokeWidth=0)
        .configure_legend(labelFontSize=12, titleFontSize=12, orient="top")
        .configure_title(fontSize=14, anchor="start")
        .configure_range(category=PALETTE)
    )  # type: ignore[return-value]


KINDS = ("lead", "same week (no lead)", "within the noise")
"""What each bar of a lag profile is: a lead (a lag of a week or more that beats both the result-first correlation
and the noise of every pair and lag tried), the same-week link, or neither."""


def _kind() -> str:
    """A Vega expression naming each bar's kind (fields lag, correlation, band)."""
    passing = "abs(datum.correlation) >= datum.band"
    return f"datum.lag == 0 ? ({passing} ? '{KINDS[1]}' : '{KINDS[2]}') : ({passing} ? '{KINDS[0]}' : '{KINDS[2]}')"


def _profile_layers(base: alt.Chart, *, best_lag: int | None, x_title: str, labels: bool = True) -> list[alt.Chart]:
    """Bars of correlation by lag coloured by kind, ticks for the same correlation with the result first, the band
    each lag must pass as red ticks, zero."""
    axis = alt.Axis(labelAngle=0) if labels else alt.Axis(labelAngle=0, labelFontSize=9, values=[0, 4, 8, 12])
    x = alt.X("lag:O", title=x_title, axis=axis)
    bars = base.mark_bar(width={"band": 0.7}).encode(
        x=x,
        y=alt.Y("correlation:Q", title="correlation" if labels else None, scale=alt.Scale(domain=[-1, 1])),
        color=alt.Color(
            "kind:N",
            title=None,
            scale=alt.Scale(domain=list(KINDS), range=[PALETTE[0], PALETTE[1], MUTED]),
            legend=alt.Legend(orient="top") if labels else None,
        ),
        tooltip=[
            alt.Tooltip("lag:O", title="weeks the indicator moves first"),
            alt.Tooltip("correlation:Q", format=".2f", title="r, indicator first"),
            alt.Tooltip("reverse:Q", format=".2f", title="r, result first"),
            alt.Tooltip("band:Q", format=".2f", title="what |r| must pass here"),
            alt.Tooltip("kind:N", title="reading"),
        ],
    )
    reverse = (
        base.transform_filter(alt.datum.lag > 0)
        .mark_tick(color="#444", thickness=2, size=12 if labels else 6)
        .encode(x=alt.X("lag:O"), y=alt.Y("reverse:Q"))
    )
    upper = base.mark_tick(color=BAD, thickness=1, size=16 if labels else 8).encode(x=alt.X("lag:O"), y="band:Q")
    lower = (
        base.transform_calculate(negative="-datum.band")
        .mark_tick(color=BAD, thickness=1, size=16 if labels else 8)
        .encode(x=alt.X("lag:O"), y="negative:Q")
    )
    zero = base.mark_rule(color="#666", strokeWidth=0.5).encode(y=alt.datum(0))
    layers = [bars, reverse, upper, lower, zero]
    if best_lag is not None:
        marker = (
            base.transform_filter(alt.datum.lag == best_lag)
            .transform_calculate(top="datum.correlation >= 0 ? datum.correlation + 0.06 : 0.06")
            .mark_text(dy=-8, fontSize=12, fontWeight="bold", color=PALETTE[5])
            .encode(x=alt.X("lag:O"), y=alt.Y("top:Q"), text=alt.value("best"))
        )
        layers.append(marker)
    return layers


def lag_profile(frame: pl.DataFrame, *, best_lag: int | None, title: str) -> alt.Chart:
    """Correlation at each lead in weeks (0: the same week, no lead), with the result-first correlation as dark
    ticks and what each bar must pass as red ticks (every pair and lag tried counted in); the best lead marked.
    ``frame``: lag, correlation, reverse, band."""
    data = frame.select("lag", "correlation", "reverse", "band")
    base = alt.Chart(data, title=title).transform_calculate(kind=_kind())
    layers = _profile_layers(base, best_lag=best_lag, x_title="weeks the indicator moves first (0 = same week)")
    return _themed(alt.layer(*layers).properties(height=360))


def overlay(
    series: pl.DataFrame, *, indicator: str, target: str, lag: int, indicator_label: str, target_label: str
) -> alt.Chart:
    """The target and the indicator moved ``lag`` weeks later, each standardised (so their shapes compare).

    ``series``: week, kpi, value (the weekly values analysed)."""
    when = f"{lag} week{'s' if lag != 1 else ''} earlier" if lag else "in the same week"
    shifted = f"{indicator_label}, {when}" if lag else indicator_label
    parts = []
    for kpi, label, shift in ((indicator, shifted, lag), (target, target_label, 0)):
        part = series.filter(pl.col("kpi") == kpi).drop_nulls("value").sort("week")
        if not part.height:
            continue
        spread = part["value"].std() or 1.0
        mean = part["value"].mean() or 0.0
        parts.append(
            part.select(
                week=pl.col("week") + timedelta(weeks=shift),
                series=pl.lit(label),
                value=pl.col("value"),
                standardised=(pl.col("value") - mean) / spread,
            )
        )
    data = pl.concat(parts) if parts else pl.DataFrame(schema={"week": pl.Date, "series": pl.String})
    chart = (
        alt.Chart(data, title=f"{target_label}, and {indicator_label[:1].lower()}{indicator_label[1:]} {when}")
        .mark_line(strokeWidth=2)
        .encode(
            x=alt.X("week:T", title=None),
            y=alt.Y("standardised:Q", title="standardised (0 = its average)"),
            color=alt.Color("series:N", title=None, sort=[shifted, target_label]),
            tooltip=[
                alt.Tooltip("series:N"),
                alt.Tooltip("week:T", title="week of", format="%d %b %Y"),
                alt.Tooltip("value:Q", format=",.2f"),
            ],
        )
        .properties(height=360)
    )
    return _themed(chart)


def profile_multiples(frame: pl.DataFrame, *, segment: str, title: str, columns: int = 4) -> alt.FacetChart:
    """One lag profile per segment, same scales, each with its own band and result-first ticks; ``frame``:
    <segment>, lag, correlation, reverse, band, heading (the segment and its finding)."""
    data = frame.select("heading", "lag", "correlation", "reverse", "band")
    base = alt.Chart().transform_calculate(kind=_kind())
    layers = _profile_layers(base, best_lag=None, x_title="lead (weeks)", labels=False)
    layered = alt.layer(*layers, data=data).properties(width=190, height=130)
    chart = layered.facet(
        facet=alt.Facet("heading:N", title=None, header=alt.Header(labelFontSize=11, labelLimit=260)),
        columns=columns,
    )
    return _themed(chart.properties(title=title))  # type: ignore[return-value]


def bridge(
    *,
    before: float,
    effects: dict[str, float],
    after: float,
    before_label: str,
    after_label: str,
    currency: str = "USD",
) -> alt.Chart:
    """Why won revenue changed: the comparison's revenue, the effect of each driver, the period's revenue."""
    steps = [
        ("closed_deals", "Closed deals"),
        ("win_rate", "Win rate"),
        ("deal_size", "Deal size"),
    ]
    rows = [{"step": before_label, "low": 0.0, "high": before, "amount": before, "kind": "total"}]
    level = before
    for key, label in steps:
        amount = effects.get(key, 0.0)
        rows.append(
            {
                "step": label,
                "low": min(level, level + amount),
                "high": max(level, level + amount),
                "amount": amount,
                "kind": "up" if amount >= 0 else "down",
            }
        )
        level += amount
    rows.append({"step": after_label, "low": 0.0, "high": after, "amount": after, "kind": "total"})
    data = pl.DataFrame(rows).with_columns(
        text=pl.struct("amount", "kind").map_elements(
            lambda r: (
                money(r["amount"], currency, compact=True)
                if r["kind"] == "total"
                else ("+" if r["amount"] >= 0 else "") + money(r["amount"], currency, compact=True)
            ),
            return_dtype=pl.String,
        ),
        exact=pl.col("amount").map_elements(lambda v: f"{v:,.2f} {currency}", return_dtype=pl.String),
    )
    order = [str(r["step"]) for r in rows]
    base = alt.Chart(data)
    bars = base.mark_bar(width={"band": 0.6}).encode(
        x=alt.X("step:N", sort=order, title=None, axis=alt.Axis(labelAngle=0, labelLimit=200)),
        y=alt.Y(
            "low:Q",
            title=currency,
            axis=alt.Axis(labelExpr="datum.value == 0 ? '0' : format(datum.value, '~s')"),
            scale=alt.Scale(zero=False),
        ),
        y2="high:Q",
        color=alt.Color(
            "kind:N", scale=alt.Scale(domain=["total", "up", "down"], range=[PALETTE[0], GOOD, BAD]), legend=None
        ),
        tooltip=[alt.Tooltip("step:N"), alt.Tooltip("exact:N", title="amount")],
    )
    labels = base.mark_text(dy=-8, fontSize=12).encode(
        x=alt.X("step:N", sort=order), y=alt.Y("high:Q"), text=alt.Text("text:N")
    )
    return _themed(alt.layer(bars, labels).properties(height=280))
