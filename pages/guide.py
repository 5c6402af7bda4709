"""KPI guide: every KPI's meaning, formula, indicator, unit, direction and required data, from the registry."""

from __future__ import annotations

import streamlit as st

import kpi_core as K
from kpi_core.registry import UNIT_NAMES
from ui import state

state.through_entrypoint()

st.title("KPI guide")
st.caption("Generated from the KPI registry: the definitions the numbers are computed with.")
catalog = K.catalog_frame()
query = st.text_input("Search", placeholder="win rate, churn, pipeline…", key="guide_search").strip().lower()
for category in ("revenue", "activity", "pipeline", "customer"):
    rows = [
        r
        for r in catalog.filter(catalog["category"] == category).iter_rows(named=True)
        if not query or query in (r["label"] + r["meaning"] + r["id"]).lower()
    ]
    if not rows:
        continue
    st.subheader(
        {
            "revenue": "Revenue and growth",
            "activity": "Sales activity",
            "pipeline": "Pipeline and effectiveness",
            "customer": "Customers and retention",
        }[category]
    )
    for row in rows:
        with st.expander(f"{row['label']} · {row['indicator']}"):
            st.markdown(row["meaning"])
            st.markdown(f"**Formula:** {row['formula']}")
            cols = st.columns(4)
            cols[0].markdown(f"**Id**  \n`{row['id']}`")
            cols[1].markdown(f"**Unit**  \n{UNIT_NAMES[row['unit']]}")
            cols[2].markdown(
                f"**Better when**  \n{'higher' if row['direction'] == 'up' else 'lower' if row['direction'] == 'down' else 'neither'}"
            )
            cols[3].markdown(f"**Kind**  \n{row['kind']}, {row['indicator']}")
            st.markdown(
                f"**Time anchor:** {row['time_anchor']}  \n**Needs:** {row['needs'] or 'the KPIs it is built from'} "
                f"(columns: {row['required'] or '—'})  \n**A change is a finding from:** "
                + (
                    f"{row['finding_needs']} (fewer: shown, but said to be too few to tell)"
                    if row["finding_needs"] != "—"
                    else "any number of records (a census of what is there, not a sample)"
                )
            )
