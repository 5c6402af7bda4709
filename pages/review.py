"""Weekly review: a notebook of questions run on the newest snapshot, presentation mode, and the meeting pack."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

import kpi_core as K
from kpi_core.changes import check_same_pipeline, stage_history_from
from kpi_core.export import to_csv, to_xlsx
from kpi_core.notebook import CELL_KINDS, Cell, Notebook, NotebookStore
from kpi_core.snapshots import SnapshotStore
from ui import review, state, workspace

state.through_entrypoint()


@st.cache_resource(max_entries=16, show_spinner="Rebuilding stage history from the snapshots…")
def with_history(folder: str, ids: tuple[str, ...]) -> K.Dataset:
    """The newest of ``ids``; when its files carry no stage history, one rebuilt from all the snapshots, so time
    in stage and stalled deals work on plain weekly reports."""
    store = SnapshotStore(Path(folder))
    loaded = [store.load(i) for i in ids]
    snapshot, tables = loaded[-1]
    if "stage_history" not in tables and len(loaded) > 1:
        tables = {
            **tables,
            "stage_history": stage_history_from([(s.as_of, t["deals"]) for s, t in loaded if "deals" in t]),
        }
    return K.Dataset.prepare(tables, as_of=snapshot.as_of)


def review_data(store: SnapshotStore, ordered: list[str], position: int) -> review.ReviewData:
    """The chosen snapshot, the one before it (when it is the same pipeline), and every one up to it (each
    prepared once and cached)."""
    folder = str(store.home)
    names = {s.id: s.name for s in store.list()}
    history = (
        *[workspace.prepared(folder, i) for i in ordered[:position]],
        with_history(folder, tuple(ordered[: position + 1])),
    )
    previous = ordered[position - 1] if position > 0 else None
    refused = None
    if previous is not None and history[-2].has("deals") and history[-1].has("deals"):
        try:
            check_same_pipeline(
                history[-2].table("deals"),
                history[-1].table("deals"),
                repr(names[previous]),
                repr(names[ordered[position]]),
            )
        except K.DataError as exc:
            previous, refused = None, str(exc)
    data = review.ReviewData(
        history[-1], names[ordered[position]], history[-2] if previous else None, names.get(previous or ""), history
    )
    if refused:
        st.warning(refused)
    return data


own = state.source() != "sample"
if state.source() == "maven":
    st.title("Weekly review")
    st.info("The Maven public data set is one export with no weekly history. Choose Your data or the Sample company.")
    st.stop()
store = workspace.team() if own else workspace.sample()
snapshots = store.list()
presenting = st.query_params.get("present") == "1"

if not presenting:
    st.title("Weekly review")
    st.caption(
        "Your team's kept snapshots"
        if own
        else "The sample company's thirteen weekly exports (its own history, read-only)"
    )
if not snapshots:
    st.info(
        "The review runs on your kept history: upload this week's export on the Data page and keep it as a snapshot; "
        "next week keep the new one, and this page shows what changed. Meanwhile the sample company shows how it looks."
    )
    cols = st.columns(3)
    if cols[0].button("Keep this week's export (Data page)", key="to_data", type="primary"):
        st.switch_page("pages/data.py")
    if cols[1].button("Open the sample company's history", key="seed_history"):
        st.session_state["wanted_source"] = "sample"
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
        key=f"review_snapshot_{store.home.name}_{snapshots[-1].id}",  # a new snapshot: back to the newest
        format_func=lambda i: next(f"{s.name} ({s.as_of})" for s in snapshots if s.id == i),
    )
else:
    name = st.session_state.get("review_notebook", names[0])
    latest_ref = st.session_state.get(f"review_snapshot_{store.home.name}_{snapshots[-1].id}", snapshots[-1].id)
ordered = [s.id for s in snapshots]
position = ordered.index(latest_ref) if latest_ref in ordered else len(ordered) - 1
data = review_data(store, ordered, position)

if "review_book" not in st.session_state or st.session_state.get("review_book_name") != name:
    st.session_state["review_book"] = books.load(name).to_json()
    st.session_state["review_book_name"] = name
book = Notebook.from_json(st.session_state["review_book"])


def keep(changed: Notebook) -> None:
    st.session_state["review_book"] = changed.to_json()


@st.cache_resource(max_entries=8, show_spinner="Running the notebook…")
def cell_results(book_json: str, folder: str, ordered: tuple[str, ...], position: int) -> list[review.CellResult]:
    """Every cell run once per notebook and snapshot (button clicks and downloads rerun the page)."""
    source = SnapshotStore(Path(folder))
    return [
        review.run_cell(cell, review_data(source, list(ordered), position))
        for cell in Notebook.from_json(book_json).cells
    ]


results = cell_results(book.to_json(), str(store.home), tuple(ordered), position)


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
        [{"name": s.name, "as of": s.as_of, "tables": ", ".join(s.tables)} for s in reversed(snapshots)],
        hide_index=True,
        width="stretch",
    )
    if own:
        st.caption("Keep, rename and delete snapshots on the Data page.")

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
