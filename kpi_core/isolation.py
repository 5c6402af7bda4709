"""Reading a file where a crash cannot reach the caller: a separate process with a memory and a time limit.

The readers underneath (Polars' CSV parser, fastexcel's Excel reader) are native code: a file built to hurt
can make them ask for 512 GB or abort, which would end the process that called them, an app server with every
user's session. :func:`read_file_isolated` runs :func:`kpi_core.ingest.read_file` in a fresh Python process
(``python -m kpi_core.isolation``, about 0.2 s to start) whose address space is capped and whose stderr goes to a
log file; the result comes back pickled, its frames as Arrow IPC files beside it. If the worker dies, runs out of
memory or out of time, the caller gets a :class:`~kpi_core.model.DataError` naming the file and the reason, with a
reference that the log line repeats.

Limits (environment): ``KPI_WORKBENCH_PARSE_MEMORY_MB`` (default 6144), ``KPI_WORKBENCH_PARSE_SECONDS``
(default 600), ``KPI_WORKBENCH_PARSES`` (reads at once, default 2).
"""

from __future__ import annotations

import logging
import os
import pickle
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import traceback
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO

import polars as pl

from kpi_core.ingest import FileImport, read_file
from kpi_core.model import DataError

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())  # silent unless the app configures logging (the CLI prints the message)

MEMORY_MB = int(os.environ.get("KPI_WORKBENCH_PARSE_MEMORY_MB", "6144"))
SECONDS = float(os.environ.get("KPI_WORKBENCH_PARSE_SECONDS", "600"))
_slots = threading.BoundedSemaphore(int(os.environ.get("KPI_WORKBENCH_PARSES", "2")))
ROOT = Path(__file__).resolve().parents[1]


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
    folder = Path(tempfile.mkdtemp(prefix="kpi-read-"))
    try:
        (folder / "upload").write_bytes(data)
        (folder / "job.pickle").write_bytes(pickle.dumps((name, kwargs, memory_mb)))
        with _slots, open(folder / "stderr.log", "wb") as errors:
            worker = subprocess.Popen(
                [sys.executable, "-m", "kpi_core.isolation", str(folder)],
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=errors,
            )
            try:
                worker.wait(seconds)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
                raise DataError(
                    f"{name}: reading it took longer than {seconds:.0f} s, so it was stopped. A file this slow to "
                    "read is not a normal export: export fewer rows, or as CSV."
                ) from None
        result = folder / "result.pickle"
        status, payload = _load(folder, result) if result.exists() else ("died", "")
        if status == "ok" and isinstance(payload, FileImport):
            return payload
        if status == "data":
            raise DataError(payload)
        text = (folder / "stderr.log").read_text(errors="replace")
        detail = next((line for line in text.splitlines() if "memory allocation" in line), text.strip()[-800:])
        reference = uuid.uuid4().hex[:8]
        log.error(
            "reading %s failed (%s, exit %s, reference %s): %s %s",
            name,
            status,
            worker.returncode,
            reference,
            payload,
            detail,
        )
        if status == "memory" or "memory allocation" in detail or "MemoryError" in detail:
            raise DataError(
                f"{name}: reading it needed more than {memory_mb / 1024:.0f} GB of memory, so it was stopped "
                f"(reference {reference}). A sheet that claims far more cells than it has, or a file far bigger than "
                "an export, does this: export the report again, or as CSV."
            )
        raise DataError(
            f"{name}: the file could not be read because the reader failed on it (reference {reference}: the details "
            "are logged under it). Export it again, or as CSV; if it keeps failing, send the file and the reference."
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _work(folder: Path) -> None:
    """The worker: cap memory, read the file, leave the result (or the reason) beside it."""
    name, kwargs, memory_mb = pickle.loads((folder / "job.pickle").read_bytes())
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        result: tuple[str, Any] = ("ok", read_file((folder / "upload").read_bytes(), name, **kwargs))
    except DataError as exc:
        result = ("data", str(exc))
    except MemoryError:
        result = ("memory", "")
    except Exception as exc:  # a bug in the reader: reported with a reference, the traceback in the log
        traceback.print_exc()
        result = ("bug", f"{type(exc).__name__}: {exc}")
    staged = folder / "result.partial"
    try:
        _dump(result, folder, staged)
    except MemoryError:
        staged.write_bytes(pickle.dumps(("memory", "")))
    except Exception:  # a frame that IPC cannot hold: the whole result pickled, as it is
        for written in folder.glob("frame-*.arrow"):
            written.unlink()
        try:
            staged.write_bytes(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
        except MemoryError:
            staged.write_bytes(pickle.dumps(("memory", "")))
    staged.rename(folder / "result.pickle")


def _dump(result: Any, folder: Path, path: Path) -> None:
    """Pickle ``result`` to ``path`` with its frames written beside it as Arrow IPC files (two at a time): a
    million-row import comes back several times faster than with the frames pickled."""
    with ThreadPoolExecutor(max_workers=2) as pool, open(path, "wb") as out:
        pickler = _FramePickler(out, folder, pool)
        pickler.dump(result)
        for written in pickler.written:
            written.result()


class _FramePickler(pickle.Pickler):
    """A pickler that writes each frame to its own IPC file (on ``pool``) and pickles a reference to it."""

    def __init__(self, file: BinaryIO, folder: Path, pool: ThreadPoolExecutor) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._folder, self._pool = folder, pool
        self.written: list[Future[None]] = []

    def persistent_id(self, obj: Any) -> Any:
        if not isinstance(obj, pl.DataFrame) or obj.width == 0 or pl.Object in obj.dtypes:
            return None  # pickled with the rest
        name = f"frame-{len(self.written)}.arrow"
        self.written.append(self._pool.submit(obj.write_ipc, self._folder / name))
        return ("frame", name)


class _FrameUnpickler(pickle.Unpickler):
    """Reads what :class:`_FramePickler` wrote, with the frames already read from their files."""

    def __init__(self, file: BinaryIO, frames: dict[str, pl.DataFrame]) -> None:
        super().__init__(file)
        self._frames = frames

    def persistent_load(self, pid: Any) -> Any:
        kind, name = pid
        if kind != "frame" or name not in self._frames:
            raise pickle.UnpicklingError(f"unknown reference {pid!r}")
        return self._frames[name]


def _load(folder: Path, result: Path) -> Any:
    """The result the worker left in ``folder``; its frames read whole, two at a time (the folder goes)."""
    names = sorted(path.name for path in folder.glob("frame-*.arrow"))
    with ThreadPoolExecutor(max_workers=2) as pool:
        frames = dict(zip(names, pool.map(lambda name: pl.read_ipc(folder / name), names), strict=True))
    with open(result, "rb") as stream:
        return _FrameUnpickler(stream, frames).load()


if __name__ == "__main__":
    _work(Path(sys.argv[1]))
