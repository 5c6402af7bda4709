"""Weekly review: a notebook of questions run on the newest snapshot, presentation mode, and the meeting pack."""

from __future__ import annotations

import re
from pathlib import Path

import streamlit as st

import kpi_core as K
from kpi_core.export import to_csv, to_xlsx
from kpi_core.formatting import SCREEN_DATE, count_decimals, screen_format
from kpi_core.notebook import CELL_KINDS, CELL_TITLES, Cell, Notebook, NotebookStore
from kpi_core.snapshots import Snapshot, SnapshotStore
from ui import charts, present, review, state, tables, tiles, workspace

state.through_entrypoint()


def plain(text: str) -> str:
    """Text shown literally where Streamlit renders Markdown (snapshot and deal names, notes): no links, code,
    emphasis or LaTeX. Parentheses need no escape once brackets have one, so "Week 11 (13 Mar)" reads as typed."""
    return re.sub(r"([\\`*_\[\]#|$<>~])", r"\\\1", text)


# the settings of the data on screen that change a KPI (fiscal-year start, reporting currency): the review's weeks
# are prepared with them, so a cell reads the number the pages read (a bare string here would be drawn on the page)
Settings = tuple[int, str | None]


def settings() -> Settings:
    key = state.dataset_key()
    return key[2], key[3]


@st.cache_resource(max_entries=16, show_spinner="Rebuilding stage history from the snapshots…")
def with_history(folder: str, ids: tuple[str, ...], chosen: Settings) -> K.Dataset:
    """The newest of ``ids``, with stage history rebuilt from the snapshots when its files carry none."""
    return review.prepare_latest(SnapshotStore(Path(folder)), ids, K.Settings(*chosen))


@st.cache_resource(max_entries=16, show_spinner="Preparing a snapshot…")
def previous_week(folder: str, snapshot_id: str, chosen: Settings) -> K.Dataset:
    """A kept week compared with the newest, prepared with the settings of the data on screen."""
    if chosen == (1, None):
        return workspace.prepared(folder, snapshot_id)  # the defaults: shared with every other page
    return review.prepare_snapshot(SnapshotStore(Path(folder)), snapshot_id, K.Settings(*chosen))


@st.cache_resource(max_entries=8, show_spinner=False)
def loaded(
    folder: str, ordered: tuple[str, ...], position: int, company: str, names: tuple[str, ...], chosen: Settings
) -> tuple[review.ReviewData, str | None]:
    """The chosen snapshot, the kept weeks before it of its pipeline (the newest of them compared with it), each
    prepared once; loaded once per list of snapshots, their ``names`` and the settings (the page's reruns and the
    notebook's cells share it; a renamed snapshot loads again)."""
    return review.load_review(
        SnapshotStore(Path(folder)),
        ordered,
        position,
        prepared=lambda i: previous_week(folder, i, chosen),
        pipeline=lambda i: workspace.pipeline(folder, i),
        latest=lambda ids: with_history(folder, ids, chosen),
        company=company,
    )


def snapshot_names(store: SnapshotStore) -> tuple[str, ...]:
    return tuple(s.name for s in store.list())


def review_data(store: SnapshotStore, ordered: list[str], position: int) -> review.ReviewData:
    """:func:`loaded` for the page, saying why the week before is not compared when it is another pipeline."""
    data, refused = loaded(str(store.home), tuple(ordered), position, company(), snapshot_names(store), settings())
    if refused:
        st.warning(refused)
    return data


def snapshot_label(snapshot: Snapshot) -> str:
    """A kept week's name, with its date unless the name already says it ("Week 1 (03 Jan 2019)")."""
    said = (f"{snapshot.as_of:%d %b %Y}", f"{snapshot.as_of:%-d %b %Y}", snapshot.as_of.isoformat())
    return snapshot.name if any(day in snapshot.name for day in said) else f"{snapshot.name} ({snapshot.as_of})"


def company() -> str:
    """Whose pipeline: the sample company's name, or what the team typed for the title slide."""
    if state.source() == "sample":
        return "Sample company"
    return str(st.session_state.get("pack_company") or "")


def column_config(table: review.Table) -> dict[str, object]:
    """Each column formatted by its unit, as the slides write it (``kpi_core.formatting``)."""
    config: dict[str, object] = {}
    for column in table.columns:
        unit = table.unit(column)
        if unit == "date":
            config[column] = st.column_config.DateColumn(column, format=SCREEN_DATE)
        elif unit != "text":
            decimals = count_decimals(table.frame[column].to_list()) if unit == "count" else 0
            config[column] = st.column_config.NumberColumn(
                column, format=screen_format(unit, table.currency, decimals=decimals)
            )
    return config


def show_table(table: review.Table, *, key: str) -> None:
    tables.frame(
        table.screen(),
        hide_index=True,
        width="stretch",
        height=min(35 * (table.height + 1) + 3, 420),
        column_config=column_config(table),  # type: ignore[arg-type]
        placeholder="—",
        key=key,
    )


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

# the review runs on the team's kept weeks: say so when the upload on screen is another pipeline than the newest
if (
    own
    and not presenting
    and state.source() == "upload"
    and not state.of_this_pipeline(state.dataset_key(), str(store.home), snapshots[-1].id)
):
    st.info(
        "These are the team's kept weeks; the data on screen is another pipeline (it shares no deals with the "
        "newest kept week). Keep it on the Data page to review it, and next week's export beside it."
    )

books = NotebookStore()
names = books.names()
if not presenting:
    top = st.columns([2, 2, 2])
    name = top[0].selectbox("Notebook", names, key="review_notebook")
    latest_ref = top[1].selectbox(
        "Snapshot",
        [s.id for s in reversed(snapshots)],
        key=f"review_snapshot_{store.home.name}_{snapshots[-1].id}",  # a new snapshot: back to the newest
        format_func=lambda i: next(snapshot_label(s) for s in snapshots if s.id == i),
    )
    if own:
        top[2].text_input("Company (title slide of the pack)", key="pack_company", placeholder="e.g. Acme Ltd")
else:
    name = st.session_state.get("review_notebook", names[0])
    latest_ref = st.session_state.get(f"review_snapshot_{store.home.name}_{snapshots[-1].id}", snapshots[-1].id)
ordered = [s.id for s in snapshots]
position = ordered.index(latest_ref) if latest_ref in ordered else len(ordered) - 1
data = review_data(store, ordered, position)

if "review_book" not in st.session_state or st.session_state.get("review_book_name") != name:
    st.session_state["review_book"] = books.load(name).to_json()
    st.session_state["review_book_name"] = name
    # edit forms are keyed by this generation and the cell's id: another notebook (even a copy with the same
    # ids) starts with fresh forms
    st.session_state["review_generation"] = int(st.session_state.get("review_generation", 0)) + 1
book = Notebook.from_json(st.session_state["review_book"])
generation = int(st.session_state.get("review_generation", 0))


def keep(changed: Notebook) -> None:
    st.session_state["review_book"] = changed.to_json()


@st.cache_resource(max_entries=8, show_spinner="Running the notebook…")
def cell_results(
    book_json: str, folder: str, ordered: tuple[str, ...], position: int, company: str, chosen: Settings
) -> list[review.CellResult]:
    """Every cell run once per notebook and snapshot (button clicks and downloads rerun the page)."""
    data, _ = loaded(folder, ordered, position, company, snapshot_names(SnapshotStore(Path(folder))), chosen)
    return [review.run_cell(cell, data) for cell in Notebook.from_json(book_json).cells]


results = cell_results(book.to_json(), str(store.home), tuple(ordered), position, company(), settings())
# what Present shows, one per screen, and the pack one per slide: the cells that can be made from this data
slides = review.shown(results)


def metric(item: review.Metric) -> None:
    st.metric(
        item.label,
        item.value,
        item.delta or None,
        # a change the engine calls too few to tell is neutral: grey, never good or bad
        delta_color="off"
        if item.tone == "neutral" or item.direction == "neutral"
        else "inverse"
        if item.direction == "down"
        else "normal",
        delta_description=item.compared if item.delta and item.compared else None,
        border=True,
        chart_data=[v if v is not None else 0.0 for v in item.spark] if item.spark else None,
        chart_type="line",
    )
    if item.status:
        st.caption(tiles.STATUS_ICON[item.status])
    elif item.compared and not item.delta:
        st.caption(plain(item.compared))


def draw(result: review.CellResult, cell: Cell) -> None:
    st.subheader(result.title)
    if result.left_out is not None:
        if result.left_out.when == review.UNWRITTEN:
            st.caption(plain(f"{cell.hint} Empty: left out of Present and the meeting pack until it has text."))
        else:
            when = result.left_out.when
            st.info(plain(result.left_out.why), icon="ℹ️")
            st.caption(
                plain(
                    "Left out of Present and the meeting pack"
                    + (
                        ""
                        if when in (review.NOT_IN_DATA, review.NOTHING_YET, review.SETTINGS)
                        else f"; it comes: {when[0].lower()}{when[1:]}"
                    )
                    + "."
                )
            )
        return
    if result.text:
        if result.kind == "note":
            st.markdown(plain(result.text).replace("\n", "  \n"))
        else:
            st.info(plain(result.text).replace("\n", "  \n"), icon="💬")
    if result.metrics:
        cols = st.columns(min(len(result.metrics), 6))
        for i, item in enumerate(result.metrics):
            with cols[i % len(cols)]:
                metric(item)
    if result.chart is not None:
        st.altair_chart(result.chart, width="stretch")
    if result.table is not None and result.table.height:
        show_table(result.table, key=f"table_{result.cell_id}")
    if result.note:
        st.caption(plain(result.note))
    for caveat in result.caveats:
        st.caption(plain(caveat))


def draw_large(result: review.CellResult, index: int) -> None:
    """One cell on one screen in large type (1440x900 and up): title and navigation on top, then its numbers, then
    its chart beside its table."""
    st.html(present.CSS)
    head = st.columns([8, 1.3, 1.3, 1], vertical_alignment="center")
    head[0].html(f'<p class="present-title">{present.escape(result.title)}</p>')
    if head[1].button("◀ Previous", key="prev", disabled=index == 0, width="stretch"):
        st.session_state["slide"] = index - 1
        st.rerun()
    if head[2].button("Next ▶", key="next", disabled=index >= len(slides) - 1, width="stretch", type="primary"):
        st.session_state["slide"] = index + 1
        st.rerun()
    if head[3].button("Exit", key="exit_present", width="stretch"):
        st.query_params.pop("present", None)
        st.rerun()
    note = result.note if result.kind != "note" else ""
    st.html(f'<p class="present-note">{present.escape(note)}{" · " if note else ""}{index + 1} / {len(slides)}</p>')
    if result.kind == "note":
        st.html(present.text(result.text, large=True))
        return
    if result.text:
        st.html(present.text(result.text))
    room = 600 - (70 if result.text else 0)
    if result.metrics:
        st.html(present.cards(result.metrics, spark=result.kind == "scorecard"))
        room -= 260 if result.kind == "scorecard" else 170
    if result.unavailable:
        st.html(present.unavailable(result.unavailable))
    table = result.table if result.table is not None and result.table.height else None
    if result.chart is not None and table is not None:
        left, right = st.columns([5, 4], gap="large")
        with left:
            st.altair_chart(charts.restyle(result.chart, font=16, height=max(room, 300)), width="stretch")
        right.html(present.table(table, rows=max(int((room - 70) / 36), 3)))
    elif result.chart is not None:
        st.altair_chart(charts.restyle(result.chart, font=16, height=max(room, 300)), width="stretch")
    elif table is not None:
        st.html(present.table(table, rows=max(int((room - 40) / 36), 3)))
    st.html(f'<p class="present-foot">{present.escape(data.quality_note)}</p>')


def nothing_to_present() -> None:
    st.html(present.CSS)
    head = st.columns([9, 1], vertical_alignment="center")
    head[0].html(f'<p class="present-title">{present.escape(book.name)}</p>')
    if head[1].button("Exit", key="exit_present", width="stretch"):
        st.query_params.pop("present", None)
        st.rerun()
    st.html(present.text("Nothing to present yet on this data.", large=True))
    st.html(present.left_out(review.left_out(results)))


if presenting:
    if not slides:
        nothing_to_present()
        st.stop()
    index = max(0, min(int(st.session_state.get("slide", 0)), len(slides) - 1))
    draw_large(slides[index], index)
    st.stop()

st.caption(plain(data.quality_note + (f" · compared with {data.previous_label}" if data.previous_label else "")))
later = review.left_out(results)
if later:  # said once, as the pack's title slide says it
    st.caption("Not in Present or the meeting pack: " + " · ".join(plain(line) for line in later))
actions = st.columns(5)
if actions[0].button("Present", key="present", type="primary"):
    st.session_state["slide"] = 0
    st.query_params["present"] = "1"
    st.rerun()
actions[1].download_button(
    "Meeting pack (PPTX)",
    lambda: review.pptx(book.name, results, data.quality_note, data.latest.as_of, data=data),
    f"{book.name}.pptx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    key="pack",
)
actions[2].download_button(
    "Meeting pack (PDF)",
    lambda: review.pdf(book.name, results, data.quality_note, data.latest.as_of, data=data),
    f"{book.name}.pdf",
    "application/pdf",
    key="pack_pdf",
)
save_name = actions[3].text_input("Save as", value=book.name, key="save_name", label_visibility="collapsed")
if actions[4].button("Save notebook", key="save_book"):
    books.save(Notebook(save_name, book.cells))
    st.success(f"Saved {save_name!r}; it re-runs on the newest snapshot next time.")


def edit_form(cell: Cell) -> None:
    """The cell's settings, keyed by its id (and the notebook's generation): the form follows its cell when cells
    move, and Apply changes this cell only."""
    with st.form(f"edit_{generation}_{cell.id}", border=False):
        key = f"{generation}_{cell.id}"
        title = st.text_input("Title", cell.title, key=f"title_{key}")
        kpis = st.multiselect(
            "KPIs (in the order shown)",
            [k.id for k in K.REGISTRY],
            default=[k for k in cell.kpis if k in K.BY_ID],
            key=f"kpis_{key}",
            format_func=lambda k: K.get(k).label,
        )
        grains = ["week", "month", "quarter", "year", "all"]
        grain = st.selectbox(
            "Grain", grains, index=grains.index(cell.grain) if cell.grain in grains else 2, key=f"grain_{key}"
        )
        # the cell's own dimension stays a choice (even when this data lacks it); "none" where a cell can do without
        dims = list(dict.fromkeys([*([cell.dimension] if cell.dimension else []), *data.latest.dimensions()]))
        choices: list[str | None] = dims if cell.kind == "segment_chart" and dims else [None, *dims]
        dimension = st.selectbox(
            "Dimension",
            choices,
            index=choices.index(cell.dimension) if cell.dimension in choices else 0,
            key=f"dim_{key}",
            format_func=lambda d: "none" if d is None else d.replace("_", " "),
        )
        period = st.text_input(
            "Period (empty: the current one)",
            cell.period or "",
            key=f"period_{key}",
            placeholder="e.g. 2026-Q4 or 2026-11",
        )
        text = st.text_area(
            "Text" if cell.kind == "note" else "Commentary (shown with the cell, on its slide and in its notes)",
            cell.text,
            key=f"text_{key}",
            placeholder=cell.hint,
        )
        if st.form_submit_button("Apply", key=f"apply_{cell.id}"):
            current = Notebook.from_json(st.session_state["review_book"])
            keep(
                current.update(
                    current.index(cell.id),
                    Cell(
                        cell.kind,
                        title,
                        tuple(kpis),
                        dimension,
                        grain,
                        period.strip() or None,
                        cell.filters,
                        text,
                        id=cell.id,
                    ),
                )
            )
            st.rerun()


for i, (cell, result) in enumerate(zip(book.cells, results, strict=True)):
    with st.container(border=True, key=f"cell_{cell.id}"):
        draw(result, cell)
        tools = st.columns([1, 1, 1, 2, 2, 2, 2])
        if tools[0].button("↑", key=f"up_{cell.id}", disabled=i == 0, help="Move up"):
            keep(book.move(i, -1))
            st.rerun()
        if tools[1].button("↓", key=f"down_{cell.id}", disabled=i == len(book.cells) - 1, help="Move down"):
            keep(book.move(i, 1))
            st.rerun()
        if tools[2].button("✕", key=f"remove_{cell.id}", help="Remove this cell"):
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
                ("Table CSV", lambda t=table: to_csv(t.frame), "csv", "text/csv"),
                (
                    "Table XLSX",
                    lambda t=table: to_xlsx(t.frame, units=t.units, currency=t.currency),
                    "xlsx",
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                ),
            ]
        for column, (label, build, suffix, mime) in zip(tools[3:], downloads, strict=False):
            column.download_button(label, build, f"{cell.title}.{suffix}", mime, key=f"{suffix}_{cell.id}")
        if result.details is not None and result.details.height:
            details = result.details
            with st.expander("The deals behind each bar"):
                categories = details.frame["What happened"].unique(maintain_order=True).to_list()
                chosen = st.selectbox("Bar", categories, key=f"bar_{cell.id}")
                show_table(
                    review.Table(
                        details.frame.filter(details.frame["What happened"] == chosen),
                        details.units,
                        details.currency,
                        details.noun,
                    ),
                    key=f"details_{cell.id}",
                )
        with st.expander("Edit this cell"):
            edit_form(cell)

with st.expander("Snapshots"):
    tables.frame(
        [{"name": s.name, "as of": s.as_of, "tables": ", ".join(s.tables)} for s in reversed(snapshots)],
        hide_index=True,
        width="stretch",
    )
    if own:
        st.caption("Keep, rename and delete snapshots on the Data page.")

with st.expander("Add a cell"):
    kind = st.selectbox("Kind", CELL_KINDS, key="new_kind", format_func=CELL_TITLES.__getitem__)
    if st.button("Add", key="add_cell"):
        keep(
            book.add(
                Cell(
                    kind,
                    CELL_TITLES[kind],
                    kpis=("won_revenue",) if kind in ("scorecard", "segment_chart") else (),
                    dimension="region" if kind == "segment_chart" else None,
                )
            )
        )
        st.rerun()
