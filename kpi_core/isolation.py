"""Reading a file where a crash cannot reach the caller: a separate process with a memory and a time limit.

The readers underneath (Polars' CSV parser, fastexcel's Excel reader) are native code: a file built to hurt
can make them ask for 512 GB or abort, which would end the process that called them, a whole app server with
every user's session. :func:`read_file_isolated` runs :func:`kpi_core.ingest.read_file` in a worker process
forked from a small server that has already imported the library (so a read costs milliseconds, not an
import); the worker's address space is capped, its stderr goes to a log file, and if it dies, runs out of
memory or out of time, the caller gets a :class:`~kpi_core.model.DataError` naming the file and the reason.

Limits (environment): ``KPI_WORKBENCH_PARSE_MEMORY_MB`` (default 6144), ``KPI_WORKBENCH_PARSE_SECONDS``
(default 600), ``KPI_WORKBENCH_PARSES`` (reads at once, default 2).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import resource
import tempfile
import threading
import traceback
import uuid
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from kpi_core.ingest import FileImport, read_file
from kpi_core.model import DataError

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())  # silent unless the app configures logging (the CLI prints the message)

MEMORY_MB = int(os.environ.get("KPI_WORKBENCH_PARSE_MEMORY_MB", "6144"))
SECONDS = float(os.environ.get("KPI_WORKBENCH_PARSE_SECONDS", "600"))
_slots = threading.BoundedSemaphore(int(os.environ.get("KPI_WORKBENCH_PARSES", "2")))
_lock = threading.Lock()
_context: Any = None


def _ctx() -> Any:
    """A forkserver that has imported the reader: each read forks a warm, single-threaded copy of it."""
    global _context
    with _lock:
        if _context is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["kpi_core.ingest"])
            _context = context
        return _context


def _child(conn: Connection, path: str, name: str, kwargs: dict[str, Any], memory_mb: int, log_path: str) -> None:
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(fd, 2)  # a native crash writes here, not to the user's terminal or the browser
    try:
        result: tuple[str, Any] = ("ok", read_file(Path(path).read_bytes(), name, **kwargs))
    except DataError as exc:
        result = ("data", str(exc))
    except MemoryError:
        result = ("memory", "")
    except BaseException as exc:  # a bug in the reader: reported with a reference, details in the log
        os.write(2, traceback.format_exc().encode("utf-8", errors="replace"))
        result = ("bug", f"{type(exc).__name__}: {exc}")
    try:
        conn.send(result)
    except MemoryError:
        conn.send(("memory", ""))
    finally:
        conn.close()


def read_file_isolated(
    data: bytes, name: str, *, memory_mb: int | None = None, seconds: float | None = None, **kwargs: Any
) -> FileImport:
    """:func:`kpi_core.ingest.read_file` in a worker process: the same result, or a :class:`DataError` when the
    file cannot be read, including when reading it crashed, ran out of memory or took too long.

    >>> read_file_isolated(b"Opportunity Name,Stage,Amount\\nA,Closed Won,5\\n", "deals.csv").kind
    'deals'
    """
    memory_mb = memory_mb or MEMORY_MB
    seconds = seconds or SECONDS
    context = _ctx()
    folder = Path(tempfile.mkdtemp(prefix="kpi-read-"))
    path, log_path = folder / "upload", folder / "stderr.log"
    try:
        path.write_bytes(data)
        with _slots:
            receive, send = context.Pipe(duplex=False)
            worker = context.Process(
                target=_child, args=(send, str(path), name, kwargs, memory_mb, str(log_path)), daemon=True
            )
            worker.start()
            send.close()
            try:
                if not receive.poll(seconds):
                    worker.kill()
                    raise DataError(
                        f"{name}: reading it took longer than {seconds:.0f} s, so it was stopped. A file this slow to "
                        "read is not a normal export: export fewer rows, or as CSV."
                    )
                status, payload = receive.recv()
            except (EOFError, OSError):
                status, payload = "died", ""
            finally:
                receive.close()
                worker.join(5)
                if worker.is_alive():
                    worker.kill()
        if status == "ok":
            return payload  # type: ignore[no-any-return]
        if status == "data":
            raise DataError(payload)
        text = log_path.read_text(errors="replace") if log_path.exists() else ""
        detail = next((line for line in text.splitlines() if "memory allocation" in line), text.strip()[-600:])
        reference = uuid.uuid4().hex[:8]
        log.error("reading %s failed (%s, reference %s): %s %s", name, status, reference, payload, detail)
        if status == "memory" or "memory allocation" in detail or worker.exitcode in (-6, -9):
            raise DataError(
                f"{name}: reading it needed more than {memory_mb / 1024:.0f} GB of memory, so it was stopped "
                f"(reference {reference}). A sheet that claims far more cells than it has, or a file far bigger than "
                "an export, does this: export the report again, or as CSV."
            )
        raise DataError(
            f"{name}: the file could not be read because the reader failed (reference {reference}; the details are "
            "in the server log). Export it again, or as CSV; if it keeps failing, send the file and the reference."
        )
    finally:
        for item in (path, log_path):
            item.unlink(missing_ok=True)
        folder.rmdir()
