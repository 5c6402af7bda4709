"""Sales KPI workbench: the Streamlit entry point (navigation and shared state only)."""

from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="Sales KPI workbench", page_icon="📈", layout="wide")

pages = [
    st.Page("pages/scorecard.py", title="Scorecard", icon="📊", default=True),
]
st.navigation(pages).run()
