"""kpi_core: sales KPIs from CRM exports, as pure Polars.

The public surface:

- :func:`read_file`, :func:`combine`, :func:`load_files`: any CRM export (CSV/XLSX/Parquet) into canonical
  tables, with its kind, source system, column mapping, stage map and data-quality report.
- :class:`Dataset`, :class:`Settings`: the canonical tables, the as-of date and settings.
- :data:`REGISTRY`, :func:`get`: every KPI of the catalog as a frozen spec.
- :func:`evaluate`, :func:`report`, :func:`availability`: KPIs per period and segment, with comparisons.
- :func:`rows_behind`, :func:`exclusions`: the rows behind one value, and the rows left out with why.
- :mod:`kpi_core.periods`: period labels, fiscal quarters and years.
- :mod:`kpi_core.to_date`: the period still running: its "to date" labels, which KPIs grow through it (kept off
  trend lines, colour scales and sparklines) and how a sparkline ends.
- :func:`find_leads`, :func:`lead_lag`: which leading indicators predict a result, by how many weeks, how surely.
- :func:`revenue_drivers`: a change of won revenue split into closed deals, win rate and deal size (to the cent).
- :func:`coach`: the 1:1, one rep against their team: where they differ beyond the noise, the revenue at stake, and
  the deals to talk about.
"""

from kpi_core import periods
from kpi_core.coaching import Coaching, coach
from kpi_core.drilldown import RowsBehind, exclusions, rows_behind
from kpi_core.drivers import Drivers, revenue_drivers
from kpi_core.engine import Report, availability, evaluate, report, resolve_periods
from kpi_core.ingest import FileImport, combine, load_files, read_file, read_table
from kpi_core.leading import Lead, LeadingReport, find_leads, lead_lag
from kpi_core.model import TABLES, DataError, Dataset, Settings
from kpi_core.periods import Period
from kpi_core.registry import BY_ID, KPI, REGISTRY, catalog_frame, get, why_unavailable

__all__ = [
    "BY_ID",
    "KPI",
    "REGISTRY",
    "TABLES",
    "Coaching",
    "DataError",
    "Dataset",
    "Drivers",
    "FileImport",
    "Lead",
    "LeadingReport",
    "Period",
    "Report",
    "RowsBehind",
    "Settings",
    "availability",
    "catalog_frame",
    "coach",
    "combine",
    "evaluate",
    "exclusions",
    "find_leads",
    "get",
    "lead_lag",
    "load_files",
    "periods",
    "read_file",
    "read_table",
    "report",
    "resolve_periods",
    "revenue_drivers",
    "rows_behind",
    "why_unavailable",
]
