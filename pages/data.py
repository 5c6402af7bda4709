"""Data: upload CRM exports, check how each was understood, fix the mapping and the stage map, see data quality."""

from __future__ import annotations

import json
from dataclasses import replace

import polars as pl
import streamlit as st

import kpi_core as K
from kpi_core.columns import LABELS, canonical_options
from kpi_core.profiles import ProfileStore, profile_of
from ui import state

state.through_entrypoint()

st.title("Data")
st.caption(
    "Drop the spreadsheets your CRM exports (Salesforce, HubSpot, Pipedrive, Zoho, Dynamics, or any CSV/XLSX). "
    "Several files load as one dataset: deals, stage history, activities, leads, subscriptions, targets, spend, "
    "exchange rates, and lookups of reps, products and accounts."
)

cols = st.columns(3)
if cols[0].button("Use the sample company", key="use_sample"):
    st.session_state["wanted_source"] = "sample"
    st.rerun()
if state.maven_available() and cols[1].button("Use the Maven public data", key="use_maven"):
    st.session_state["wanted_source"] = "maven"
    st.rerun()
if state.uploads() and cols[2].button("Forget uploaded files", key="forget"):
    st.session_state["uploads"] = []
    st.session_state["wanted_source"] = "sample"
    st.rerun()

files = st.file_uploader(
    "Upload exports",
    type=["csv", "txt", "tsv", "xlsx", "xls", "parquet"],
    accept_multiple_files=True,
    key="uploader",
    help="Files up to the size set in .streamlit/config.toml (server.maxUploadSize).",
)
known = {u.digest: u for u in state.uploads()}
current: list[state.Upload] = []
problems: list[str] = []
for file in files or []:
    data = file.getvalue()
    digest = state.remember(data)
    upload = known.get(digest, state.Upload(digest, file.name))
    try:
        state.imported(upload)
    except K.DataError as exc:
        problems.append(str(exc))
        continue
    current.append(upload)
for message in problems:
    st.error(f"{message}\n\nThe app keeps the data it had; fix the file and upload it again.")
if files is not None and [u.digest for u in current] != [u.digest for u in state.uploads()]:
    st.session_state["uploads"] = current
    if current:
        st.session_state["wanted_source"] = "upload"
    st.rerun()

uploads = state.uploads()
if not uploads:
    st.info(f"Showing: {state.SOURCES[state.source()]}. Upload files above to see your own KPIs.")
    st.stop()

for position, upload in enumerate(uploads):
    result = state.imported(upload)
    table = result.tables[0]
    with st.expander(
        f"{upload.name} · {table.kind.replace('_', ' ')} · {LABELS.get(result.source, result.source)} · "
        f"{table.frame.height:,} rows",
        expanded=position == 0,
    ):
        grid = result.grid
        st.caption(f"Recognised as {result.source_reason}")
        st.caption(
            f"Encoding {grid.encoding}; header on row {grid.header_row + 1}; {grid.footer_rows} footer/total row(s) dropped"
            + (f"; sheet {grid.sheet!r}" if grid.sheet else "")
            + (f"; export date {result.as_of_hint}" if result.as_of_hint else "")
        )
        if len(grid.sheets) > 1:
            sheet = st.selectbox(
                "Sheet",
                grid.sheets,
                index=grid.sheets.index(grid.sheet) if grid.sheet in grid.sheets else 0,
                key=f"sheet_{upload.digest}",
            )
            if sheet != grid.sheet:
                st.session_state["uploads"] = [
                    replace(u, sheet=sheet) if u.digest == upload.digest else u for u in uploads
                ]
                st.rerun()
        options = ["", *canonical_options(table.kind)]
        mapping = pl.DataFrame(
            [
                {"column": m.original, "maps to": m.canonical or "", "confidence": m.confidence, "why": m.note}
                for m in table.mapping
                if not (m.canonical or "").startswith("entered:")
            ]
        )
        st.markdown("**Column mapping** (change *maps to*; empty ignores the column)")
        edited = st.data_editor(
            mapping,
            key=f"mapping_{upload.digest}",
            hide_index=True,
            disabled=["column", "confidence", "why"],
            width="stretch",
            column_config={
                "maps to": st.column_config.SelectboxColumn("maps to", options=options, required=False),
                "confidence": st.column_config.ProgressColumn(
                    "confidence", min_value=0.0, max_value=1.0, format="%.2f"
                ),
            },
        )
        changes = tuple(
            (str(row["column"]), str(row["maps to"]) or None)
            for row, before in zip(edited.iter_rows(named=True), mapping.iter_rows(named=True), strict=True)
            if (row["maps to"] or "") != (before["maps to"] or "")
        )
        if changes:
            merged = dict(upload.overrides) | dict(changes)
            st.session_state["uploads"] = [
                replace(u, overrides=tuple(merged.items())) if u.digest == upload.digest else u for u in uploads
            ]
            st.rerun()
        if table.stage_map is not None and table.stage_map.height:
            st.markdown(
                "**Stage map**, per pipeline: what each stage means, and how many of its deals are open, won and "
                "lost. Flags such as IsWon and a status column decide first (*decided by*); the status set here "
                "counts where they say nothing. *mixed*: the status column gives the stage's deals different ones."
            )
            stage_edit = st.data_editor(
                table.stage_map,
                key=f"stages_{upload.digest}",
                hide_index=True,
                disabled=["pipeline", "stage", "deals", "open", "won", "lost", "decided_by"],
                width="stretch",
                column_config={
                    "status": st.column_config.SelectboxColumn(
                        "status", options=["open", "won", "lost"], required=False
                    ),
                    "decided_by": st.column_config.TextColumn("decided by"),
                    "probability": st.column_config.NumberColumn(
                        "default probability", min_value=0.0, max_value=1.0, format="percent"
                    ),
                    "order": st.column_config.NumberColumn("order", min_value=1, step=1),
                },
            )
            if not stage_edit.equals(table.stage_map):
                st.session_state["uploads"] = [
                    replace(u, stages=json.dumps(stage_edit.to_dicts(), default=str))
                    if u.digest == upload.digest
                    else u
                    for u in uploads
                ]
                st.rerun()
        if result.suggestions:
            st.markdown("**Columns that look meaningful but are not used** (map them above if they matter)")
            st.dataframe(
                pl.DataFrame(
                    {
                        "column": [f.column for f in result.suggestions],
                        "holds": [f.looks_like for f in result.suggestions],
                        "could be": [" or ".join(f.suggest) or "—" for f in result.suggestions],
                    }
                ),
                hide_index=True,
                width="stretch",
            )
        st.markdown("**Data quality**")
        if result.quality.height:
            st.dataframe(
                result.quality.select("severity", "rule", "rows", "effect", "example"), hide_index=True, width="stretch"
            )
        else:
            st.caption("No problems found.")
        if st.button("Save this mapping for next time", key=f"save_{upload.digest}"):
            path = ProfileStore().save(profile_of(result))
            st.success(f"Saved. Files with the same columns will be mapped this way automatically ({path.name}).")

dataset = state.current_dataset()
if dataset.quality is not None and dataset.quality.height:
    st.subheader("Across files")
    st.dataframe(
        dataset.quality.select("severity", "rule", "table", "rows", "effect", "example"),
        hide_index=True,
        width="stretch",
    )

store = ProfileStore()
with st.expander("Mapping profiles"):
    profiles = store.all()
    st.caption(f"{len(profiles)} saved profile(s) in {store.folder}")
    st.download_button(
        "Export profiles (JSON)",
        store.export_json(),
        "mapping-profiles.json",
        "application/json",
        key="export_profiles",
    )
    incoming = st.file_uploader("Import profiles (JSON)", type=["json"], key="profiles_upload")
    if incoming is not None:
        try:
            added = store.import_json(incoming.getvalue().decode("utf-8", errors="replace"), incoming.name)
            st.success(f"Imported {len(added)} profile(s).")
        except K.DataError as exc:
            st.error(str(exc))
