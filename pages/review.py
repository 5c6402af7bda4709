"""Weekly review: a notebook of questions run on the newest snapshot, presentation mode, and the meeting pack."""

from __future__ import annotations

import streamlit as st

import kpi_core as K
from kpi_core.changes import stage_history_from
from kpi_core.export import to_csv, to_xlsx
from kpi_core.notebook import CELL_KINDS, Cell, Notebook, NotebookStore
from kpi_core.snapshots import SnapshotStore, export_date
from sample_data import load_sample
from sample_data.history import seed_store
from ui import review, state

state.through_entrypoint()


@st.cache_resource(max_entries=64, show_spinner="Preparing a snapshot…")
def prepared(snapshot_id: str) -> K.Dataset:
    snapshot, tables = SnapshotStore().load(snapshot_id)
    return K.Dataset.prepare(tables, as_of=snapshot.as_of)


@st.cache_resource(max_entries=16, show_spinner="Rebuilding stage history from the snapshots…")
def with_history(ids: tuple[str, ...]) -> K.Dataset:
    """The newest of ``ids``; when its files carry no stage history, one rebuilt from all the snapshots, so time
    in stage and stalled deals work on plain weekly reports."""
    store = SnapshotStore()
    loaded = [store.load(i) for i in ids]
    snapshot, tables = loaded[-1]
    if "stage_history" not in tables and len(loaded) > 1:
        tables = {
            **tables,
            "stage_history": stage_history_from([(s.as_of, t["deals"]) for s, t in loaded if "deals" in t]),
        }
    return K.Dataset.prepare(tables, as_of=snapshot.as_of)


def review_data(ordered: list[str], position: int) -> review.ReviewData:
    """The chosen snapshot, the one before it, and every one up to it (each prepared once and cached)."""
    names = {s.id: s.name for s in SnapshotStore().list()}
    history = (*[prepared(i) for i in ordered[:position]], with_history(tuple(ordered[: position + 1])))
    previous = ordered[position - 1] if position > 0 else None
    return review.ReviewData(
        history[-1], names[ordered[position]], history[-2] if previous else None, names.get(previous or ""), history
    )


store = SnapshotStore()
snapshots = store.list()
presenting = st.query_params.get("present") == "1"

if not presenting:
    st.title("Weekly review")
if not snapshots:
    st.info(
        "The review runs on snapshots: weekly exports kept as history. Save this week's export from the command line "
        "(`python -m kpi_core snapshots save FILE`), or start with the sample company's last thirteen weeks."
    )
    if st.button("Load the sample company's weekly history", key="seed_history"):
        with st.spinner("Saving thirteen weekly exports…"):
            seed_store(store, load_sample())
        st.rerun()
    st.stop()

books = NotebookStore()
names = books.names()
if not presenting:
    top = st.columns([2, 2, 2])
    name = top[0].selectbox("Notebook", names, key="review_notebook")
    latest_ref = top[1].selectbox(
        "Snapshot",
        [s.id for s in reversed(snapshots)],
        key="review_snapshot",
        format_func=lambda i: next(f"{s.name} ({s.as_of})" for s in snapshots if s.id == i),
    )
else:
    name = st.session_state.get("review_notebook", names[0])
    latest_ref = st.session_state.get("review_snapshot", snapshots[-1].id)
ordered = [s.id for s in snapshots]
position = ordered.index(latest_ref) if latest_ref in ordered else len(ordered) - 1
data = review_data(ordered, position)

if "review_book" not in st.session_state or st.session_state.get("review_book_name") != name:
    st.session_state["review_book"] = books.load(name).to_json()
    st.session_state["review_book_name"] = name
book = Notebook.from_json(st.session_state["review_book"])


def keep(changed: Notebook) -> None:
    st.session_state["review_book"] = changed.to_json()


@st.cache_resource(max_entries=8, show_spinner="Running the notebook…")
def cell_results(book_json: str, ordered: tuple[str, ...], position: int) -> list[review.CellResult]:
    """Every cell run once per notebook and snapshot (button clicks and downloads rerun the page)."""
    return [review.run_cell(cell, review_data(list(ordered), position)) for cell in Notebook.from_json(book_json).cells]


results = cell_results(book.to_json(), tuple(ordered), position)


def draw(result: review.CellResult, *, large: bool = False) -> None:
    if large:
        st.markdown(f"# {result.title}")
    else:
        st.subheader(result.title)
    if result.metrics:
        cols = st.columns(min(len(result.metrics), 6))
        for i, (label, value, delta) in enumerate(result.metrics):
            cols[i % len(cols)].metric(label, value, delta or None, border=True)
    if result.text:
        st.markdown(f"### {result.text}" if large else result.text)
    if result.chart is not None:
        st.altair_chart(result.chart, width="stretch")
    if result.table is not None and result.table.height:
        st.dataframe(result.table, hide_index=True, width="stretch")
    if result.note:
        st.caption(result.note)


if presenting:
    index = min(int(st.session_state.get("slide", 0)), len(results) - 1)
    draw(results[index], large=True)
    st.caption(f"{index + 1} / {len(results)} · {data.quality_note}")
    nav = st.columns([1, 1, 6, 1])
    if nav[0].button("◀ Previous", key="prev", disabled=index == 0):
        st.session_state["slide"] = index - 1
        st.rerun()
    if nav[1].button("Next ▶", key="next", disabled=index >= len(results) - 1):
        st.session_state["slide"] = index + 1
        st.rerun()
    if nav[3].button("Exit", key="exit_present"):
        st.query_params.pop("present", None)
        st.rerun()
    st.stop()

st.caption(data.quality_note + (f" · compared with {data.previous_label}" if data.previous_label else ""))
actions = st.columns(5)
if actions[0].button("Present", key="present", type="primary"):
    st.session_state["slide"] = 0
    st.query_params["present"] = "1"
    st.rerun()
actions[1].download_button(
    "Meeting pack (PPTX)",
    lambda: review.pptx(book.name, results, data.quality_note, data.latest.as_of),
    f"{book.name}.pptx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    key="pack",
)
actions[2].download_button(
    "Meeting pack (PDF)",
    lambda: review.pdf(book.name, results, data.quality_note, data.latest.as_of),
    f"{book.name}.pdf",
    "application/pdf",
    key="pack_pdf",
)
save_name = actions[3].text_input("Save as", value=book.name, key="save_name", label_visibility="collapsed")
if actions[4].button("Save notebook", key="save_book"):
    books.save(Notebook(save_name, book.cells))
    st.success(f"Saved {save_name!r}; it re-runs on the newest snapshot next time.")

for i, (cell, result) in enumerate(zip(book.cells, results, strict=True)):
    with st.container(border=True):
        draw(result)
        tools = st.columns([1, 1, 1, 2, 2, 2, 2])
        if tools[0].button("↑", key=f"up_{i}", disabled=i == 0, help="Move up"):
            keep(book.move(i, -1))
            st.rerun()
        if tools[1].button("↓", key=f"down_{i}", disabled=i == len(book.cells) - 1, help="Move down"):
            keep(book.move(i, 1))
            st.rerun()
        if tools[2].button("✕", key=f"remove_{i}", help="Remove this cell"):
            keep(book.remove(i))
            st.rerun()
        downloads = []  # (label, builder, file suffix, mime): files are built only when clicked
        if result.chart is not None:
            chart = result.chart
            downloads += [
                ("Chart PNG", lambda c=chart: review.chart_image(c, "png"), "png", "image/png"),
                ("Chart SVG", lambda c=chart: review.chart_image(c, "svg"), "svg", "image/svg+xml"),
            ]
        if result.table is not None and result.table.height:
            table = result.table
            downloads += [
                ("Table CSV", lambda t=table: to_csv(t), "csv", "text/csv"),
                (
                    "Table XLSX",
                    lambda t=table: to_xlsx(t),
                    "xlsx",
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                ),
            ]
        for column, (label, build, suffix, mime) in zip(tools[3:], downloads, strict=False):
            column.download_button(label, build, f"{cell.title}.{suffix}", mime, key=f"{suffix}_{i}")
        if result.details is not None and result.details.height:
            with st.expander("The deals behind each bar"):
                categories = [c for c in result.details["category"].unique(maintain_order=True).to_list()]
                chosen = st.selectbox("Bar", categories, key=f"bar_{i}", format_func=lambda c: c.replace("_", " "))
                st.dataframe(
                    result.details.filter(result.details["category"] == chosen), hide_index=True, width="stretch"
                )
        with st.expander("Edit this cell"):
            title = st.text_input("Title", cell.title, key=f"title_{i}")
            kpis = st.multiselect(
                "KPIs",
                [k.id for k in K.REGISTRY],
                default=[k for k in cell.kpis if k in K.BY_ID],
                key=f"kpis_{i}",
                format_func=lambda k: K.get(k).label,
            )
            grain = st.selectbox(
                "Grain",
                ["week", "month", "quarter", "year", "all"],
                index=["week", "month", "quarter", "year", "all"].index(cell.grain),
                key=f"grain_{i}",
            )
            dims = data.latest.dimensions()
            dimension = st.selectbox(
                "Dimension", dims, index=dims.index(cell.dimension) if cell.dimension in dims else 0, key=f"dim_{i}"
            )
            period = st.text_input(
                "Period (empty: the current one)",
                cell.period or "",
                key=f"period_{i}",
                placeholder="e.g. 2026-Q4 or 2026-11",
            )
            text = st.text_area("Text", cell.text, key=f"text_{i}")
            if st.button("Apply", key=f"apply_{i}"):
                keep(
                    book.update(
                        i,
                        Cell(
                            cell.kind, title, tuple(kpis), dimension, grain, period.strip() or None, cell.filters, text
                        ),
                    )
                )
                st.rerun()

with st.expander("Snapshots"):
    st.dataframe(
        [{"id": s.id, "name": s.name, "as of": s.as_of, "tables": ", ".join(s.tables)} for s in reversed(snapshots)],
        hide_index=True,
        width="stretch",
    )
    cols = st.columns(3)
    target = cols[0].selectbox(
        "Snapshot",
        [s.id for s in reversed(snapshots)],
        key="manage_snapshot",
        format_func=lambda i: next(f"{s.name} ({s.as_of})" for s in snapshots if s.id == i),
    )
    new_name = cols[1].text_input("New name", key="snapshot_new_name")
    if cols[1].button("Rename", key="rename_snapshot") and new_name:
        try:
            store.rename(target, new_name)
            st.rerun()
        except K.DataError as exc:
            st.error(str(exc))
    if cols[2].button("Delete", key="delete_snapshot"):
        store.delete(target)
        st.rerun()
    if st.button(f"Save the data now shown ({state.SOURCES[state.source()]}) as a snapshot", key="save_current"):
        current = state.current_dataset()
        try:
            uploads = state.uploads() if state.source() == "upload" else ()
            sources = [(u.name, u.digest) for u in uploads] or [(state.SOURCES[state.source()], "")]
            mapping = {u.name: dict(u.overrides) for u in uploads}
            hints = [state.imported(u).as_of_hint for u in uploads]
            as_of = next((d for d in (export_date(h) for h in hints) if d), current.as_of)
            saved = store.save(state.raw_tables(), as_of=as_of, sources=sources, mapping=mapping)
            st.success(f"Saved {saved.name}.")
            st.rerun()
        except K.DataError as exc:
            st.error(str(exc))

with st.expander("Add a cell"):
    kind = st.selectbox("Kind", CELL_KINDS, key="new_kind")
    if st.button("Add", key="add_cell"):
        keep(
            book.add(
                Cell(
                    kind,
                    kind.replace("_", " ").capitalize(),
                    kpis=("won_revenue",) if kind in ("scorecard", "segment_chart") else (),
                    dimension="region" if kind == "segment_chart" else None,
                )
            )
        )
        st.rerun()
