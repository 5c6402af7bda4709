"""What escapes a page becomes a short message with a reference in the browser and the details in the server log;
the session, its uploads and every other user's session carry on."""

from __future__ import annotations

import logging
import os
import re
import sys
import uuid
from collections.abc import Callable
from typing import TypeVar

import streamlit as st

log = logging.getLogger("kpi_workbench")
if not log.handlers:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    for name in ("kpi_core",):
        logging.getLogger(name).addHandler(handler)

T = TypeVar("T")


def strict() -> bool:
    """Tests set KPI_WORKBENCH_RAISE=1 so an error fails them instead of becoming a message."""
    return os.environ.get("KPI_WORKBENCH_RAISE") == "1"


def report(where: str, exc: Exception) -> str:
    """Log an error with a reference and return the reference."""
    reference = uuid.uuid4().hex[:8]
    log.error("%s failed (reference %s)", where, reference, exc_info=exc)
    return reference


def guarded(where: str, run: Callable[[], T], fallback: Callable[[], T] | None = None) -> T | None:
    """Run a page (or part of one); on an error, show a short message with a reference instead of a traceback.

    Streamlit's own control flow (``st.stop``, ``st.rerun``, page switches) derives from ``BaseException`` and
    passes through."""
    try:
        return run()
    except Exception as exc:
        if strict():
            raise
        reference = report(where, exc)
        st.error(
            f"Something went wrong on this page and it stopped (reference {reference}). Nothing you loaded is lost: "
            "try another period, filter or page, or reload. If it happens again, send the reference: the details "
            "are in the server log."
        )
        return fallback() if fallback is not None else None


_MARKDOWN = re.compile(r"([\\`*_\[\]()#|$<>~])")


def plain(text: str) -> str:
    """Text shown literally where Streamlit renders Markdown (a file named '[click](http://x).csv' is a name,
    not a link; '$x$' is not LaTeX)."""
    return _MARKDOWN.sub(r"\\\1", text)
