"""The Streamlit side: shared state and caching, chart builders, KPI tiles. Pages stay thin."""
