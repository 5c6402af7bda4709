"""1:1: one rep against their team, where they differ beyond the noise, the revenue at stake, the deals to discuss."""

from __future__ import annotations

import polars as pl
import streamlit as st

from kpi_core import coaching
from kpi_core.formatting import SCREEN_DATE, format_cell, format_value, money, screen_format
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
to_date = (
    f" to {found.as_of.day} {found.as_of:%b %Y}"
    if found.period.grain != "all" and found.period.contains(found.as_of)
    else ""
)
before = f", beside {found.previous.label}" if found.previous else ""
st.caption(
    f"{state.SOURCES.get(state.source(), 'Your data')} · {found.period.label}{to_date}{before} · against "
    f"{peers.words}: {len(peers.members)} other rep(s), computed without {rep} · money in {currency}. The sidebar's "
    "segment filters do not apply here: the peer group is the comparison."
)
for note in [peers.note] if peers.note else []:
    st.info(note)

st.subheader(f"Where {rep} differs most")
ranked = bool(found.differences["focus_rank"].is_not_null().any())
for i, sentence in enumerate(found.focus, start=1):
    st.markdown(f"{i}. {sentence}" if ranked else sentence)
st.caption(
    "Beyond the noise: the rep's 95% interval (Wilson for rates, a seeded bootstrap for means and medians) leaves out "
    f"the peers' value, with at least {coaching.MIN_SAMPLE} deals (or leads, activities, days) behind it. A revenue "
    "effect is what the rep would have won at the peers' value, all else the rep's own; its formula is in the table."
)


def _pdf() -> bytes:
    from ui import coaching_pdf

    assert not isinstance(found, str)
    return coaching_pdf.one_page(found, company=state.SOURCES.get(state.source(), ""))


st.download_button(
    "Download the 1:1 page (PDF)",
    _pdf,
    f"1-1 {rep} {found.period.label}.pdf",
    "application/pdf",
    key="coach_pdf",
)

left, right = st.columns(2, gap="large")
steps = coaching_charts.funnel_frame(found.funnel, rep=rep, peers=f"{peers.name} (without {rep})")
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
        coaching_charts.gaps(gaps, title=f"Each KPI against {peers.words}, with {rep}'s 95% interval"),
        width="stretch",
    )

st.subheader("Each KPI beside the team")


def _noise(row: dict[str, object]) -> str:
    return coaching.noise_words(row)


table = pl.DataFrame(
    [
        {
            "KPI": r["label"],
            rep: format_value(r["rep_value"], r["unit"], currency),
            found.previous.label if found.previous else "Before": format_value(r["rep_previous"], r["unit"], currency),
            "Peers": format_value(r["peer_value"], r["unit"], currency),
            "95% interval": "—"
            if r["ci_low"] is None
            else f"{format_value(r['ci_low'], r['unit'], currency)} to {format_value(r['ci_high'], r['unit'], currency)}",
            "n": f"{format_cell(r['n'], 'count')} {r['counted']}",
            "Beyond the noise": _noise(r),
            "Revenue effect": "—" if r["revenue_effect"] is None else money(r["revenue_effect"], currency),
            "How the effect is computed": r["revenue_formula"] or "",
            "Note": r["note"] or "",
        }
        for r in found.differences.iter_rows(named=True)
    ]
)
if table.height:
    tables.frame(table, hide_index=True, width="stretch")
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
