"""Data: upload CRM exports, check how each was understood, fix the mapping and the stage map, see data quality."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import replace
from datetime import date

import polars as pl
import streamlit as st

import kpi_core as K
from kpi_core.columns import LABELS, canonical_options
from kpi_core.ingest import export_as_of
from kpi_core.profiles import ProfileStore, profile_of
from ui import guard, state, tables, workspace

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

round_ = int(st.session_state.get("uploader_round", 0))  # a new key empties the uploader after "Forget"
files = st.file_uploader(
    "Upload exports",
    type=["csv", "txt", "tsv", "xlsx", "xls", "parquet"],
    accept_multiple_files=True,
    key="uploader" if round_ == 0 else f"uploader_{round_}",
    help="Files up to the size set in .streamlit/config.toml (server.maxUploadSize). They stay with this browser "
    "(across pages and reloads) until you remove them; keep this week's as history below.",
)
# only files new to this browser are read: the uploader forgets its files when the page is left, the workspace
# does not (a page visit never replaces what is loaded with the uploader's empty list)
known = {u.digest: u for u in state.uploads()}
loaded = list(state.uploads())
problems: list[str] = []
messages: list[str] = []
arriving = []
for file in files or []:
    data = file.getvalue()
    digest = hashlib.sha256(data).hexdigest()[:20]
    if digest not in known and digest not in {d for d, _, _ in arriving}:
        arriving.append((digest, file.name, data))
if arriving:
    # a big export takes seconds: say what is happening, step by step, and what came of it
    steps: list[str] = []

    def say(line: str) -> None:
        steps.append(line)
        st.write(line)

    with st.status(f"Opening {len(arriving)} file(s)…", expanded=True) as progress:
        started = time.perf_counter()
        for digest, name, data in arriving:
            state.remember(data)
            upload = state.Upload(digest, name)
            progress.update(label=f"Reading {guard.plain(name)}…")
            say(f"Reading **{guard.plain(name)}** ({len(data) / 1e6:,.1f} MB) and recognising its columns…")
            step = time.perf_counter()
            try:
                result = state.imported(upload)
            except K.DataError as exc:
                problems.append(str(exc))
                say(f"✗ {guard.plain(name)} could not be read (see below).")
                continue
            table = result.tables[0]
            say(
                f"✓ {table.frame.height:,} rows: {table.kind.replace('_', ' ')} from "
                f"{guard.plain(LABELS.get(result.source, result.source))}, "
                f"{sum(1 for m in table.mapping if m.canonical)} of {len(table.mapping)} columns recognised "
                f"({time.perf_counter() - step:.1f} s)"
            )
            # this week's export of the same report replaces last week's (same kind, same columns): never both at once
            same = [
                u
                for u in loaded
                if (old := state.imported(u)).kind == result.kind and old.tables[0].signature == table.signature
            ]
            if same:
                upload = replace(upload, overrides=same[0].overrides, stages=same[0].stages, sheet=same[0].sheet)
                messages.append(
                    f"{guard.plain(name)} replaces {', '.join(guard.plain(u.name) for u in same)} (the same export, "
                    "newer)."
                )
            else:
                messages.append(f"Loaded {guard.plain(name)}.")
            loaded = [u for u in loaded if u not in same] + [upload]
            known[digest] = upload
        if messages:
            progress.update(label="Preparing the data…")
            say("Preparing: joining lookups, working out each deal's status, cycle and stage, encoding…")
            step = time.perf_counter()
            prepared = state.guarded_dataset(("upload", tuple(loaded), *state.dataset_key()[2:]))
            if prepared is not None:
                say(f"✓ {state.dataset_summary(prepared)} ({time.perf_counter() - step:.1f} s)")
                progress.update(label="Computing the KPIs…")
                step = time.perf_counter()
                say(f"✓ {state.headline(prepared)} ({time.perf_counter() - step:.1f} s)")
            total = time.perf_counter() - started
            progress.update(label=f"Opened in {total:.1f} s", state="complete", expanded=False)
            st.session_state["opened"] = (f"Opened in {total:.1f} s", steps)
            messages.append(f"Opened in {total:.1f} s: see the Scorecard.")
        else:
            progress.update(label="Nothing could be read", state="error")
for message in problems:
    st.error(f"{guard.plain(message)}\n\nThe app keeps the data it had; fix the file and upload it again.")
if messages:
    state.set_uploads(loaded)
    st.session_state["wanted_source"] = "upload"
    st.session_state["flash"] = messages
    st.rerun()

if opened := st.session_state.pop("opened", None):  # what the last upload went through, step by step
    with st.status(opened[0], state="complete", expanded=False):
        for line in opened[1]:
            st.write(line)
uploads = state.uploads()
if not uploads:
    st.info(
        f"Showing: {state.describe()}. Upload this week's exports above to see your own KPIs"
        + ("; your kept history stays on the Weekly review." if state.newest_kept() else ".")
    )
else:
    st.subheader("Loaded files")
    if st.button(
        "Forget uploaded files", key="forget", help="Removes the files from this browser (kept snapshots stay)"
    ):
        state.set_uploads([])
        st.session_state["uploader_round"] = round_ + 1
        st.session_state["flash"] = ["Forgot the uploaded files."]
        st.rerun()

for position, upload in enumerate(uploads):
    result = state.imported(upload)
    table = result.tables[0]
    with st.expander(
        f"{guard.plain(upload.name)} · {table.kind.replace('_', ' ')} · {LABELS.get(result.source, result.source)} · "
        f"{table.frame.height:,} rows",
        expanded=position == 0,
    ):
        if st.button(f"Remove {guard.plain(upload.name)}", key=f"remove_{upload.digest}"):
            state.set_uploads([u for u in uploads if u.digest != upload.digest])
            st.session_state["flash"] = [f"Removed {guard.plain(upload.name)}."]
            st.rerun()
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
                state.set_uploads([replace(u, sheet=sheet) if u.digest == upload.digest else u for u in uploads])
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
            state.set_uploads(
                [replace(u, overrides=tuple(merged.items())) if u.digest == upload.digest else u for u in uploads]
            )
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
                state.set_uploads(
                    [
                        replace(u, stages=json.dumps(stage_edit.to_dicts(), default=str))
                        if u.digest == upload.digest
                        else u
                        for u in uploads
                    ]
                )
                st.rerun()
        if result.suggestions:
            st.markdown("**Columns that look meaningful but are not used** (map them above if they matter)")
            tables.frame(
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
            tables.frame(
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
    tables.frame(
        dataset.quality.select("severity", "rule", "table", "rows", "effect", "example"),
        hide_index=True,
        width="stretch",
    )

st.subheader("History")
team = workspace.team()
if state.source() == "upload" and uploads:
    stated = export_as_of([state.imported(u) for u in uploads])
    detected = stated[0] if stated else None
    shown = state.current_dataset()
    cols = st.columns([2, 3, 2])
    which = hashlib.sha256("".join(u.digest for u in uploads).encode()).hexdigest()[:8]  # new files: new defaults
    kept_on = cols[0].date_input(
        "Export date",
        value=detected or shown.as_of,
        key=f"keep_date_{which}",
        help="The day the export describes: "
        + ("found in the file" if detected else f"{shown.as_of_source} (no export date in the file)")
        + ". Change it if the export was taken another day.",
    )
    kept_on = kept_on if isinstance(kept_on, date) else shown.as_of
    name = cols[1].text_input(
        "Name", value=f"Week {kept_on.isocalendar().week} ({kept_on:%d %b %Y})", key=f"keep_name_{kept_on}"
    )
    cols[2].markdown("&nbsp;")
    if cols[2].button(f"Keep as the snapshot of {kept_on:%d %b}", key="keep", type="primary"):
        try:
            saved = team.save(
                state.raw_tables(),
                as_of=kept_on,
                name=name.strip() or None,
                sources=[(u.name, u.digest) for u in uploads],
                mapping={u.name: dict(u.overrides) for u in uploads},
                quality=state.import_quality(),
            )
            already = saved.name != (name.strip() or saved.name)
            with st.spinner("Preparing the week's pipeline for the scorecard's trends…"):
                workspace.pipeline(str(team.home), saved.id)  # kept on disk: the trends never wait for it
            st.session_state["flash"] = [
                f"This data was already kept as {saved.name!r}."
                if already
                else f"Kept as {saved.name!r}: the weekly review compares it with the week before."
            ]
            st.rerun()
        except K.DataError as exc:
            st.error(str(exc))
kept = team.list()
if not kept:
    st.caption(
        "No history kept yet. Keep each week's export (the button above appears once you upload one): the "
        "weekly review then shows what changed, and the scorecard the pipeline's trend."
    )
else:
    table = pl.DataFrame(
        {
            "name": [s.name for s in reversed(kept)],
            "as of": [f"{s.as_of:%d %b %Y}" for s in reversed(kept)],
            "files": [", ".join(n for n, _ in s.sources) for s in reversed(kept)],
            "tables": [", ".join(s.tables) for s in reversed(kept)],
        }
    )
    ids = [s.id for s in reversed(kept)]
    picked = tables.frame(
        table, hide_index=True, width="stretch", on_select="rerun", selection_mode="multi-row", key="kept_table"
    )
    chosen_rows = list(picked.selection.rows) if picked is not None else []  # type: ignore[attr-defined]
    cols = st.columns([2, 2, 2])
    if cols[0].button(
        f"Delete {len(chosen_rows)} selected" if chosen_rows else "Delete selected",
        key="delete_kept",
        disabled=not chosen_rows,
    ):
        gone = [team.delete(ids[i]).name for i in chosen_rows]
        st.session_state["flash"] = [f"Deleted {len(gone)} snapshot(s): {', '.join(gone)}."]
        st.rerun()
    if len(chosen_rows) == 1:
        new_name = cols[1].text_input("New name", key="rename_kept_name", label_visibility="collapsed")
        if cols[2].button("Rename", key="rename_kept") and new_name.strip():
            try:
                renamed = team.rename(ids[chosen_rows[0]], new_name.strip())
                st.session_state["flash"] = [f"Renamed to {renamed.name!r}."]
                st.rerun()
            except K.DataError as exc:
                st.error(str(exc))

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
