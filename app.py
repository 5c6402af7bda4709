"""Sales KPI workbench: the Streamlit entry point. Navigation and the shared sidebar controls only;
the controls are keyed widgets bound to the URL (``?grain=quarter&period=2026-Q3&region=EMEA``)."""

from __future__ import annotations

import streamlit as st

from ui import guard, state, workspace

# ?present=1 is the Weekly review's presentation mode (no navigation; the page hides the sidebar), on that page only
wants_present = st.query_params.get("present") == "1"
st.set_page_config(page_title="Sales KPI workbench", page_icon="📈", layout="wide")

review_page = st.Page("pages/review.py", title="Weekly review")
pages = [
    st.Page("pages/scorecard.py", title="Scorecard", default=True),
    st.Page("pages/pipeline.py", title="Pipeline"),
    st.Page("pages/activity.py", title="Activity"),
    st.Page("pages/customers.py", title="Customers"),
    st.Page("pages/segments.py", title="Segments"),
    st.Page("pages/leading.py", title="What leads revenue"),
    st.Page("pages/coaching.py", title="1:1"),
    review_page,
    st.Page("pages/data.py", title="Data"),
    st.Page("pages/guide.py", title="KPI guide"),
]
page = st.navigation(pages, position="hidden" if wants_present else "sidebar")
if wants_present and page.url_path != review_page.url_path:
    st.query_params.pop("present", None)  # another page: the parameter goes, the navigation comes back
    st.rerun()
for message in st.session_state.pop("flash", []):  # confirmations from the run before a st.rerun()
    st.toast(message)

with st.sidebar:
    workspace.token()  # this browser's uploads live under a token in the address: a reload finds them
    options = [*(["upload"] if state.has_own_data() else []), "sample", *(["maven"] if state.maven_available() else [])]
    if "wanted_source" in st.session_state:  # a page asked for other data (widgets can only change before they exist)
        st.session_state["source"] = st.session_state.pop("wanted_source")
    if st.session_state.get("source") not in options:
        st.session_state["source"] = options[0]
    st.selectbox("Data", options, format_func=state.SOURCES.__getitem__, key="source")
    dataset = guard.guarded("preparing the data", state.current_dataset)
    if dataset is None:  # the chosen data could not be prepared: show the sample company meanwhile
        st.session_state["wanted_source"] = "sample"
        dataset = state.dataset_for("sample", (), 1, None)
    where = "the date given" if dataset.as_of_source == "given" else dataset.as_of_source
    st.caption(
        f"{guard.plain(state.describe())}. As of {dataset.as_of:%d %b %Y}: {guard.plain(where)}. "
        f"Money in {dataset.currency}"
        + (
            " (assumed: the files do not name a currency; set it under More filters and settings)."
            if state.currency_assumed(dataset)
            else "."
        )
    )
    st.selectbox("Grain", ["week", "month", "quarter", "year", "all"], index=2, key="grain", bind="query-params")
    grain = st.session_state.get("grain") or "quarter"
    periods = state.period_options(dataset, grain)
    # the period holding the as-of date follows the data: a manager on this quarter who loads next week's export,
    # now in the next quarter, sees the next quarter (a period chosen further back stays chosen)
    was_current = st.session_state.get("current_period")
    if st.session_state.get("period") not in periods or (
        was_current not in (None, periods[0]) and st.session_state.get("period") == was_current
    ):
        st.session_state["period"] = periods[0]
    st.session_state["current_period"] = periods[0]
    st.selectbox("Period", periods, key="period", bind="query-params")
    st.selectbox("Compare with", list(state.COMPARE), key="compare", bind="query-params")
    dims = dataset.dimensions()
    for dim in state.FILTER_DIMS:
        if dim in dims:
            values = state.dimension_values(dataset, dim)
            st.multiselect(dim.replace("_", " ").capitalize(), values, key=dim, bind="query-params", placeholder="All")
    with st.expander("More filters and settings"):
        for dim in state.MORE_DIMS:
            if dim in dims and dataset.has("deals") and dim in dataset.table("deals").columns:
                values = state.dimension_values(dataset, dim)
                st.multiselect(
                    dim.replace("_", " ").capitalize(), values, key=dim, bind="query-params", placeholder="All"
                )
        st.selectbox(
            "Reporting currency",
            [None, *state.CURRENCIES],
            key="reporting_currency",
            # the label names no currency: a widget's labels are kept while its options stay the same, so a label
            # naming the data's currency would still name the data shown before (the caption above names it)
            format_func=lambda c: "From the data" if c is None else c,
            help="Money KPIs are in the deals' own currency (or the one the CRM converted them to); choose one to "
            "name it when the files do not, or to convert with an uploaded rate table.",
        )
        st.selectbox(
            "Fiscal year starts in",
            list(range(1, 13)),
            key="fiscal_year_start",
            format_func=lambda m: [
                "January",
                "February",
                "March",
                "April",
                "May",
                "June",
                "July",
                "August",
                "September",
                "October",
                "November",
                "December",
            ][m - 1],
        )

guard.guarded(f"the {page.title} page", page.run)
