"""1:1: one rep against their team, their gaps and strengths beyond the noise, the revenue at stake, the deals."""

from __future__ import annotations

from typing import Any

import polars as pl
import streamlit as st

from kpi_core import coaching
from kpi_core.formatting import SCREEN_DATE, format_cell, format_value, screen_format
from ui import coaching_charts, state, tables

state.through_entrypoint()

dataset = state.current_dataset()
view = state.current_view(dataset)
key = state.dataset_key()
st.title("1:1")

reps = coaching.reps(dataset)
if not reps:
    st.info(
        "The 1:1 compares one rep with their team: it needs a deals export with an owner on each deal (and ideally "
        "stage history, activities and leads). Upload one on the Data page."
    )
    st.stop()
chosen_owners = dict(view.filters).get("owner", ())
default = reps.index(chosen_owners[0]) if len(chosen_owners) == 1 and chosen_owners[0] in reps else 0
if st.session_state.get("rep") not in (None, *reps):
    st.session_state.pop("rep")  # a rep of other data: start again from the default
top = st.columns([2, 1])
rep = top[0].selectbox("Rep", reps, index=default, key="rep", bind="query-params")
against = top[1].selectbox(
    "Compared with",
    list(coaching.AGAINST),
    key="against",
    bind="query-params",
    format_func={"team": "Their team", "region": "Their region", "company": "The whole company"}.__getitem__,
    help="The peers are computed without the rep. A team is the data's team or manager; without one, the company.",
)
if rep is None:
    st.stop()

history = state.coaching_history(dataset)
found = state.coaching(key, rep, against or "team", view.grain, view.period.label, history)
if isinstance(found, str):
    st.warning(found)
    st.stop()

currency = found.currency
peers = found.peers
source = state.describe()
to_date = (
    f" to {found.as_of.day} {found.as_of:%b %Y}"
    if found.period.grain != "all" and found.period.contains(found.as_of)
    else ""
)
before = f", beside {found.previous.label}" if found.previous else ""
st.caption(
    f"{source} · {found.period.label}{to_date}{before} · against {peers.words}: {len(peers.members)} other rep(s), "
    f"computed without {rep} · money in {currency}. The sidebar's segment filters do not apply here: the peer group "
    "is the comparison."
)
for note in [peers.note] if peers.note else []:
    st.info(note)


def _md(text: str) -> str:
    """Text for st.markdown: a dollar sign is money, not the start of a formula."""
    return text.replace("$", "\\$")


st.markdown(f"**{_md(found.summary)}**")
left_list, right_list = st.columns(2, gap="large")
for column, colour, title, sentences in (
    (left_list, "red", f"Gaps: worse than {peers.words}", found.gaps),
    (right_list, "green", f"Strengths: better than {peers.words}", found.strengths),
):
    column.markdown(f"#### :{colour}[{title}]")
    if not sentences:
        column.caption("None beyond the noise.")
    for i, sentence in enumerate(sentences, start=1):
        column.markdown(f":{colour}[**{i}.**] {_md(sentence)}")
st.caption(
    f"Beyond the noise: {rep} against the peers as two samples (rates: Newcombe's score interval for a difference of "
    "proportions; amounts and durations: Welch's t on their logarithms, read as a typical ratio; activities per week: "
    f"the spread of the peers' own weekly rates), the page's {found.compared} comparisons judged together (Holm's "
    f"correction: a rep like the team gets any flag at most {coaching.ALPHA:.0%} of the time) and the 95% interval "
    f"leaving out no difference; fewer than {coaching.MIN_SAMPLE} deals (or leads, stage exits) behind a number is "
    "too few to tell. Better or worse by each KPI's good direction. A revenue effect is what the rep would have won "
    "at the peers' value, all else the rep's own."
)


def _pdf() -> bytes:
    from ui import coaching_pdf

    assert not isinstance(found, str)
    return coaching_pdf.one_page(found, source=source)


st.download_button(
    "Download the 1:1 page (PDF)",
    _pdf,
    f"1-1 {rep} {found.period.label}.pdf",
    "application/pdf",
    key="coach_pdf",
)

left, right = st.columns(2, gap="large")
steps = coaching_charts.funnel_frame(found.funnel, found.differences, rep=rep, peers=f"{peers.name} (without {rep})")
if steps.height:
    left.altair_chart(
        coaching_charts.funnel(
            steps,
            rep=rep,
            peers=f"{peers.name} (without {rep})",
            title=f"Funnel: deals created in {found.period.label}, on to the next stage",
        ),
        width="stretch",
    )
else:
    left.info("No stage funnel: this data has no stages, or no deal of theirs was created in the period.")
gaps = coaching_charts.gaps_frame(found.differences, currency)
if gaps.height:
    right.altair_chart(
        coaching_charts.gaps(gaps, title=f"Each KPI against {peers.words}, with its 95% interval"),
        width="stretch",
    )

st.subheader("Each KPI beside the peers")
before_label = found.previous.label if found.previous else "Before"
p_label = f"p after {found.compared} comparisons"
table = pl.DataFrame(
    [
        {
            "KPI": r["label"],
            rep: format_value(r["rep_value"], r["unit"], currency),
            before_label: format_value(r["rep_previous"], r["unit"], currency),
            "Peers": format_value(r["peer_value"], r["unit"], currency),
            "Difference (95% interval)": coaching.difference_text(r),
            "Verdict": r["verdict"],
            "Revenue effect": coaching.revenue_text(r["revenue_effect"], currency),
            p_label: coaching.p_text(r["p_adjusted"]),
            "Sample": f"{format_cell(r['n'], 'count')} {r['counted']}",
            "Note": "; ".join(
                part
                for part in (
                    f"explained by the funnel: {r['explained_by']}" if r["explained_by"] else "",
                    r["note"] or "",
                )
                if part
            ),
        }
        for r in found.differences.iter_rows(named=True)
    ],
)
tones = [
    coaching_charts.SHADES[r["verdict"]] if r["beyond_noise"] and r["verdict"] in ("better", "worse") else None
    for r in found.differences.iter_rows(named=True)
]


def _colour(column: Any) -> list[str]:
    return [f"color: {tone}; font-weight: 600" if tone else "" for tone in tones]


if table.height:
    styled = table.to_pandas().style.apply(_colour, subset=["Difference (95% interval)", "Verdict"])
    tables.frame(
        styled,
        hide_index=True,
        width="stretch",
        height=36 * (table.height + 1) + 3,  # every KPI at once, no scrolling inside the table
        column_config={
            "KPI": st.column_config.TextColumn(width="medium", pinned=True),
            "Difference (95% interval)": st.column_config.TextColumn(width="medium"),
            p_label: st.column_config.TextColumn(
                help="How often a difference this large comes by chance alone when the rep is like the peers, after "
                "Holm's correction across the page's comparisons (beyond the noise under "
                f"{coaching.ALPHA:.0%})"
            ),
            "Revenue effect": st.column_config.TextColumn(
                width="medium",
                help="What the rep would have won more (+) or less (-) at the peers' value, all else the rep's own",
            ),
            "Note": st.column_config.TextColumn(width="large"),
        },
    )
formulas = [r for r in found.differences.iter_rows(named=True) if r["revenue_formula"]]
if formulas:
    with st.expander("How each revenue effect is computed"):
        for r in formulas:
            amount = coaching.revenue_text(r["revenue_effect"], currency)
            st.markdown(f"- **{_md(r['label'])}**: {_md(amount)} = {_md(r['revenue_formula'])}")
for reason in found.unavailable.values():
    st.caption(f"Not measured: {reason}")

st.subheader("Deals to talk about")
deals = found.deals
if not deals.height:
    st.info(f"{rep} has no open deal that is stalled, past due, slipped or among their largest.")
else:
    shown = deals.select(
        pl.coalesce(pl.col("deal_name"), pl.col("deal_id")).alias("Deal"),
        pl.col("stage").alias("Stage"),
        pl.col("amount").alias("Amount"),
        pl.col("close_date").alias("Close date"),
        pl.col("flags").alias("Flags"),
        pl.col("facts").alias("The facts"),
    )
    config = {
        "Amount": st.column_config.NumberColumn(format=screen_format("currency", currency)),
        "Close date": st.column_config.DateColumn(format=SCREEN_DATE),
    }
    tables.frame(shown.head(12), hide_index=True, width="stretch", column_config=config)
    if deals.height > 12:
        with st.expander(f"All {deals.height} flagged deals"):
            tables.frame(shown, hide_index=True, width="stretch", column_config=config)
if history is None:
    st.caption(
        "Slipped deals (close date pushed more than once) come from kept weekly snapshots: keep each week's export "
        "on the Data page to see them."
    )
for warning in found.warnings:
    if warning != peers.note:
        st.caption(warning)
