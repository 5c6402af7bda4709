"""What leads revenue: which leading indicators predict this company's results, by how many weeks, how surely."""

from __future__ import annotations

import polars as pl
import streamlit as st

import kpi_core as K
from kpi_core import leading
from ui import leading_charts, state, tables

state.through_entrypoint()

dataset = state.current_dataset()
view = state.current_view(dataset)
key = state.dataset_key()
st.title("What leads revenue")

top = st.columns([3, 1])
targets = top[0].multiselect(
    "Results to explain",
    [k.id for k in K.REGISTRY if leading.weekly_reason(k.id) is None],
    default=list(state.LEAD_TARGETS),
    key="lead_targets",
    format_func=lambda k: K.get(k).label,
    help="Won revenue and deals won are the results; new opportunities are where revenue starts, so what leads "
    "them leads revenue a sales cycle later.",
)
max_lag = int(top[1].number_input("Longest lead (weeks)", 4, 26, leading.MAX_LAG, key="lead_max_lag"))
if not targets:
    st.info("Choose at least one result to explain.")
    st.stop()

found = state.lead_analysis(key, view.filters, tuple(targets), None, None, max_lag)
currency = found.currency
weeks = found.weeks
filters = ", ".join(f"{k}: {', '.join(v)}" for k, v in view.filters) or "all segments"
span = f"{len(weeks)} complete weeks, {weeks[0]:%d %b %Y} to the week of {weeks[-1]:%d %b %Y}" if weeks else "no weeks"
st.caption(
    f"{state.SOURCES[state.source()]} · {filters} · weekly, {span} · leads of 1 to {max_lag} weeks. A lead has to "
    "stand out of chance with every indicator, result and lead tried counted together"
    + (f" ({found.family})" if found.family else "")
    + "; moving together in the same week is not a lead.",
    help="Counts and money are taken on logs; trend, yearly and quarterly cycles, quarter-end weeks and holiday "
    "weeks (Thanksgiving, Christmas, New Year) are removed, and both series go through the same pre-whitening "
    "filters. A lead at k weeks must beat the same correlation with the result moving first. The p-values are "
    "adjusted for the whole family with Westfall and Young's step-down over block permutations.",
)
if len(found.warnings) > 2:  # many KPIs this data cannot measure: one line, the reasons a click away
    with st.expander(f"{len(found.warnings)} things this data cannot measure"):
        for warning in found.warnings:
            st.markdown(f"- {warning}")
else:
    for warning in found.warnings:
        st.info(warning)
frame = found.frame
if not frame.height:
    st.info("None of the chosen results can be measured against a leading indicator with this data.")
    st.stop()
if frame["note"].is_not_null().all():
    st.warning(
        f"Not enough history to measure a lead: {len(weeks)} complete week(s); a lead of up to {max_lag} weeks needs "
        f"{leading.needed_weeks(max_lag)}. No number is given from less."
    )
    st.stop()

st.subheader("Leaders")
# revenue's leaders first, then those of the other results (new opportunities: where revenue starts)
order = {t: i for i, t in enumerate(targets)}
leads = frame.filter(pl.col("significant")).sort(
    pl.col("target").replace_strict(order, default=len(order)), pl.col("correlation").abs(), descending=[False, True]
)
for i, row in enumerate(leads.iter_rows(named=True), start=1):
    st.markdown(f"{i}. {leading.finding(row, currency)}", help=leading.details(row, found.family))
for target in targets:
    if not leads.filter(pl.col("target") == target).height:
        tested = frame.filter((pl.col("target") == target) & pl.col("note").is_null()).height
        st.markdown(
            f"- **No measurable lead on {leading.kpi_words(target)}**: none of the {tested} indicator(s) moves ahead "
            f"of it by 1 to {max_lag} weeks beyond what chance gives, once every indicator, result and lead tried is "
            "counted."
        )
same_week = frame.filter(pl.col("same_week") & ~pl.col("significant"))
for row in same_week.iter_rows(named=True):
    st.caption(leading.finding(row, currency), help=leading.details(row, found.family))

with st.expander("Every indicator against every result"):
    st.caption(
        f"p is adjusted for {found.family or 'every pair and lag measured'}; r is the correlation after the "
        "filters at the best lead, 'result first' the same with the result moving first."
    )
    labels = {k.id: k.label for k in K.REGISTRY}
    table = frame.select(
        pl.col("indicator").replace_strict(labels).alias("Indicator"),
        pl.col("target").replace_strict(labels).alias("Result"),
        pl.struct(pl.all()).map_elements(leading.short_finding, return_dtype=pl.String).alias("Reading"),
        pl.col("lag_weeks").alias("Best lead (weeks)"),
        pl.col("strength").alias("Strength"),
        pl.col("correlation").round(2).alias("r"),
        pl.col("reverse_correlation").round(2).alias("r, result first"),
        pl.col("p_value").round(3).alias("p (adjusted)"),
        pl.col("same_week_correlation").round(2).alias("r, same week"),
        pl.col("stable").alias("Same lead in both halves"),
        pl.col("weeks").alias("Weeks"),
        pl.col("note").alias("Note"),
    )
    tables.frame(table, hide_index=True, width="stretch")

st.subheader("Look closer")
measured = frame.filter(pl.col("note").is_null()).with_columns(_r=pl.col("correlation").abs())
measured = measured.sort(["significant", "same_week", "_r"], descending=True)
pairs = [(r["indicator"], r["target"]) for r in measured.iter_rows(named=True)]
pair = st.selectbox(
    "Indicator and result",
    pairs,
    key="lead_pair",
    format_func=lambda p: f"{K.get(p[0]).label} → {K.get(p[1]).label}",
)
if pair is None:
    st.stop()
indicator, target = pair
row = measured.filter((pl.col("indicator") == indicator) & (pl.col("target") == target)).row(0, named=True)
st.markdown(leading.finding(row, currency), help=leading.details(row, found.family))
left, right = st.columns(2, gap="large")
profile = found.profiles.filter((pl.col("indicator") == indicator) & (pl.col("target") == target))
left.altair_chart(
    leading_charts.lag_profile(
        profile,
        best_lag=row["lag_weeks"] if row["significant"] else None,
        title="Correlation by lead, after the filters",
    ),
    width="stretch",
)
left.caption(
    "Dark ticks: the same correlation with the result moving first. Red ticks: what a bar must pass to be a lead "
    "(beat the result-first tick by the noise of every pair and lead tried) or, at 0, a same-week link."
)
right.altair_chart(
    leading_charts.overlay(
        found.series,
        indicator=indicator,
        target=target,
        lag=int(row["lag_weeks"]) if row["significant"] else 0,
        indicator_label=K.get(indicator).label,
        target_label=K.get(target).label,
    ),
    width="stretch",
)

st.subheader("By segment")
dims = [d for d in state.LEAD_DIMS if d in dataset.dimensions()]
if not dims:
    st.caption("This data has no region, team or owner to split by.")
    st.stop()
dim = st.segmented_control(
    "Split by", dims, default=dims[0], key="lead_dim", format_func=lambda d: d.replace("_", " ").capitalize()
)
if dim is None:
    st.stop()
split = state.lead_analysis(key, view.filters, (target,), (indicator,), dim, max_lag)
for warning in split.warnings:
    st.caption(warning)
if not split.frame.height:
    st.stop()


def heading(r: dict[str, object]) -> str:
    """A segment's panel title: its finding in a few words."""
    if r["note"]:
        return f"{r[dim]}: not enough history"
    if r["significant"]:
        hedge = "" if r["strength"] != "weak" and r["stable"] is not False else ", weak or unstable"
        return f"{r[dim]}: leads by {leading.weeks_words(int(str(r['lag_weeks'])))}{hedge}"
    return f"{r[dim]}: {'same week only' if r['same_week'] else 'no lead beyond chance'}"


headings = {r[dim]: heading(r) for r in split.frame.iter_rows(named=True)}
by_segment = split.profiles.with_columns(heading=pl.col(dim).replace_strict(headings, default=None))
if by_segment.height:
    shown = by_segment.filter(pl.col(dim).is_in(sorted(by_segment[dim].unique().to_list())[:24]))
    st.altair_chart(
        leading_charts.profile_multiples(
            shown,
            segment=dim,
            title=f"{K.get(indicator).label} → {K.get(target).label}, each {dim.replace('_', ' ')} on its own",
        ),
        width="content",
    )
    if by_segment[dim].n_unique() > 24:
        st.caption(f"The first 24 of {by_segment[dim].n_unique()} segments; the table below has them all.")
found_in = split.frame.filter(pl.col("significant")).height
st.caption(
    f"A lead found in {found_in} of {split.frame.height} {dim.replace('_', ' ')} segment(s). Each segment is measured "
    "on its own weeks, all segments counted together"
    + (f" ({split.family})" if split.family else "")
    + "; segments with less history need a stronger link."
)
with st.expander("Each segment"):
    tables.frame(
        split.frame.select(
            dim,
            pl.struct(pl.all()).map_elements(leading.short_finding, return_dtype=pl.String).alias("Reading"),
            pl.col("lag_weeks").alias("Best lead (weeks)"),
            pl.col("strength").alias("Strength"),
            pl.col("correlation").round(2).alias("r"),
            pl.col("p_value").round(3).alias("p (adjusted)"),
            pl.col("significant").alias("Leader"),
            pl.col("stable").alias("Same lead in both halves"),
            pl.col("weeks").alias("Weeks"),
            pl.col("note").alias("Note"),
        ),
        hide_index=True,
        width="stretch",
    )
