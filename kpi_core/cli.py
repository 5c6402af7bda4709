"""Command line: ``python -m kpi_core compute ...``."""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any, cast

import polars as pl

from kpi_core import analysis_cli
from kpi_core.engine import report
from kpi_core.export import neutralise
from kpi_core.formatting import format_delta, format_value
from kpi_core.ingest import FileImport, combine, export_as_of
from kpi_core.model import DataError, Dataset, Settings
from kpi_core.periods import GRAINS, Grain
from kpi_core.profiles import ProfileStore
from kpi_core.registry import catalog_markdown
from kpi_core.snapshots import SnapshotStore, export_date


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m kpi_core", description="Sales KPIs from CRM exports.")
    sub = parser.add_subparsers(dest="command", required=True)
    compute = sub.add_parser("compute", help="compute KPIs per period and segment")
    compute.add_argument("files", nargs="*", help="canonical CSV or Parquet files (deals, activities, leads, ...)")
    compute.add_argument("--sample", action="store_true", help="use the built-in sample company")
    compute.add_argument("--grain", choices=GRAINS, default="month")
    compute.add_argument("--period", action="append", default=[], help="period label, e.g. 2026-Q4 (repeatable)")
    compute.add_argument("--last", type=int, help="the last N periods up to the as-of date")
    compute.add_argument("--by", action="append", default=[], help="dimension to split by (repeatable)")
    compute.add_argument(
        "--filter", action="append", default=[], metavar="DIM=VALUE", help="keep one segment (repeatable)"
    )
    compute.add_argument("--kpi", action="append", default=[], help="KPI id (repeatable; default: all)")
    compute.add_argument(
        "--as-of", type=date.fromisoformat, help="as-of date YYYY-MM-DD (default: latest date in the data)"
    )
    compute.add_argument("--fiscal-year-start", type=int, default=1, metavar="MONTH")
    compute.add_argument(
        "--currency", help="reporting currency, e.g. EUR (default: the deals' own, or the one the CRM converted to)"
    )
    compute.add_argument("--format", choices=("json", "csv", "table"), default="table")
    compute.add_argument(
        "--raw", action="store_true", help="CSV as is: without the apostrophe that stops spreadsheets running formulas"
    )
    sub.add_parser("catalog", help="print the KPI catalog as a Markdown table")
    inspect = sub.add_parser(
        "inspect", help="show how files were understood: kind, source, mapping, stage map, data quality"
    )
    inspect.add_argument("files", nargs="+")
    inspect.add_argument("--format", choices=("text", "json"), default="text")
    for command in (compute, inspect):
        command.add_argument("--profiles", type=Path, help="folder of saved mapping profiles to apply")
    changes = sub.add_parser("changes", help="what changed in the open pipeline between two exports or snapshots")
    changes.add_argument("--from", dest="before", action="append", required=True, metavar="FILE_OR_SNAPSHOT")
    changes.add_argument("--to", dest="after", action="append", required=True, metavar="FILE_OR_SNAPSHOT")
    changes.add_argument("--period", help="limit to open deals closing in this period, e.g. 2026-Q4")
    changes.add_argument("--fiscal-year-start", type=int, default=1, metavar="MONTH")
    changes.add_argument("--format", choices=("json", "table"), default="table")
    changes.add_argument(
        "--sample-history", action="store_true", help="the sample company's workspace instead of the team's"
    )
    forecast = sub.add_parser("forecast", help="forecast accuracy of closed periods, from the stored snapshots")
    forecast.add_argument("--grain", choices=("week", "month", "quarter", "year"), default="month")
    forecast.add_argument("--by", action="append", default=[], help="dimension to split by, e.g. owner or region")
    forecast.add_argument("--weekly", action="store_true", help="also the forecast made each week of the period")
    forecast.add_argument("--format", choices=("json", "csv", "table"), default="table")
    forecast.add_argument(
        "--sample-history", action="store_true", help="the sample company's workspace instead of the team's"
    )
    pack = sub.add_parser("pack", help="the Weekly review's meeting pack (PPTX or PDF) from the kept snapshots")
    pack.add_argument("--notebook", help='a saved review notebook (default: the shipped "Weekly pipeline review")')
    pack.add_argument("--snapshot", help="the snapshot to review: name, id or date (default: the newest)")
    pack.add_argument("--format", choices=("pptx", "pdf"), required=True)
    pack.add_argument("--out", type=Path, required=True, metavar="FILE")
    pack.add_argument("--company", help="the company named on the title slide")
    pack.add_argument(
        "--sample-history", action="store_true", help="the sample company's workspace instead of the team's"
    )
    snaps = sub.add_parser("snapshots", help="list, save, rename or delete stored snapshots")
    snaps.add_argument("action", choices=("list", "save", "rename", "delete"))
    snaps.add_argument("args", nargs="*", help="save: FILES...; rename: SNAPSHOT NAME; delete: SNAPSHOT")
    snaps.add_argument(
        "--as-of", type=date.fromisoformat, help="the export's date (default: from the files or the data)"
    )
    snaps.add_argument("--name")
    snaps.add_argument("--sample", action="store_true", help="save the built-in sample company")
    snaps.add_argument(
        "--sample-history", action="store_true", help="the sample company's workspace instead of the team's"
    )
    analysis_cli.add_parsers(sub)  # leading, drivers
    return parser


def _clean(value: Any) -> Any:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    return value


FACTS = frozenset({"deals", "activities", "leads", "subscriptions"})
"""Tables KPIs are computed from (the others are lookups, targets and rates)."""


def _read(files: Sequence[str], profiles: Path | None) -> tuple[list[FileImport], list[str]]:
    """Every file that can be read, and for each one that cannot, the reason (the same for every command)."""
    from kpi_core.isolation import read_file_isolated

    store = ProfileStore(profiles) if profiles else None
    imports: list[FileImport] = []
    skipped: list[str] = []
    for path in map(Path, files):
        try:
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise DataError(f"{path.name}: cannot be read ({exc.strerror or exc}).") from exc
            imports.append(read_file_isolated(data, path.name, profiles=store))
        except DataError as exc:
            skipped.append(f"skipped {exc}")
    return imports, skipped


def _load(args: argparse.Namespace) -> tuple[Dataset, list[str], pl.DataFrame]:
    """The dataset from --sample and the files, the files skipped (with why) and the data-quality findings of
    the files and of combining them. A file that cannot be used is skipped, unless nothing else could be read."""
    settings = Settings(fiscal_year_start=args.fiscal_year_start, currency=getattr(args, "currency", None))
    raw: dict[str, pl.DataFrame] = {}
    skipped: list[str] = []
    imports: list[FileImport] = []
    if args.sample:
        from sample_data import load_sample

        raw.update(load_sample())
    if args.files:
        imports, skipped = _read(args.files, args.profiles)
        if not imports and not args.sample:
            raise DataError("; ".join(s.removeprefix("skipped ") for s in skipped))
        for kind, frame in combine(imports).items():
            raw[kind] = pl.concat([raw[kind], frame], how="diagonal_relaxed") if kind in raw else frame
    if not raw:
        raise DataError("no data: give files to read or --sample" + (f" ({'; '.join(skipped)})" if skipped else ""))
    if not FACTS & raw.keys():
        read = ", ".join(f"{i.name} ({i.kind})" for i in imports)
        raise DataError(
            f"nothing to compute KPIs from: {read} hold no deals, activities, leads or subscriptions"
            + (f"; {'; '.join(skipped)}" if skipped else "")
        )
    stated = export_as_of(imports) if args.as_of is None else None
    dataset = Dataset.prepare(
        raw,
        as_of=args.as_of or (stated[0] if stated else None),
        settings=settings,
        as_of_source=stated[1] if stated else None,
    )
    frames = [i.quality for i in imports] + ([dataset.quality] if dataset.quality is not None else [])
    quality = pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame()
    return dataset, skipped, quality


def _as_of_line(dataset: Dataset) -> str:
    source = "given with --as-of" if dataset.as_of_source == "given" else dataset.as_of_source
    return f"As of {dataset.as_of.isoformat()} ({source}); money in {dataset.currency}"


def compute(args: argparse.Namespace) -> int:
    dataset, skipped, quality = _load(args)
    filters: dict[str, list[str]] = {}
    for item in args.filter:
        dim, _, value = item.partition("=")
        if not value:
            raise DataError(f"--filter {item!r}: use DIM=VALUE, e.g. region=EMEA")
        filters.setdefault(dim, []).append(value)
    periods = args.period or args.last
    result = report(
        dataset, args.kpi or None, grain=cast(Grain, args.grain), periods=periods, by=args.by, filters=filters
    )
    frame = result.frame
    if args.format == "json":
        rows = []
        for row in frame.iter_rows(named=True):
            out = {k: _clean(v) for k, v in row.items() if k != "stage" or v is not None}
            rows.append(out)
        print(
            json.dumps(
                {
                    "as_of": dataset.as_of.isoformat(),
                    "as_of_source": dataset.as_of_source,
                    "currency": dataset.currency,
                    "rows": rows,
                    "unavailable": result.unavailable,
                    "warnings": skipped + result.warnings,
                    "quality": quality.to_dicts() if quality.height else [],
                },
                indent=1,
                default=str,
            )
        )
    elif args.format == "csv":
        sys.stdout.write((frame if args.raw else neutralise(frame)).write_csv())
    else:
        _print_table(frame, args.by, dataset, result.unavailable, skipped + result.warnings, quality)
    return 0


def _print_table(
    frame: pl.DataFrame,
    by: Sequence[str],
    dataset: Dataset,
    unavailable: dict[str, str],
    warnings: list[str],
    quality: pl.DataFrame,
) -> None:
    currency = dataset.currency
    print(_as_of_line(dataset))
    header = ["Period", "KPI", *by, "Value", "vs previous", "vs last year"]
    lines = [header]
    for row in frame.iter_rows(named=True):
        label = row["label"] + (f" [{row['stage']}]" if row["stage"] else "")
        unit = row["unit"]
        lines.append(
            [
                row["period"],
                label,
                *[str(row[d]) for d in by],
                format_value(row["value"], unit, currency),
                format_delta(row["delta"], unit, currency),
                format_delta(row["last_year_delta"], unit, currency),
            ]
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for n, line in enumerate(lines):
        print(
            "  ".join(
                cell.ljust(w) if i < 2 + len(by) else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(line, widths, strict=True))
            )
        )
        if n == 0:
            print("  ".join("-" * w for w in widths))
    noted = [row for row in frame.iter_rows(named=True) if row.get("note")]
    if noted:
        print("\nNotes:")
        for row in noted:
            label = row["label"] + (f" [{row['stage']}]" if row["stage"] else "")
            segment = "".join(f" {row[d]}" for d in by)
            print(f"  {row['period']}{segment} {label}: {row['note']}")
    if unavailable:
        print("\nUnavailable:")
        for kpi, reason in unavailable.items():
            print(f"  {kpi}: {reason}")
    for warning in warnings:
        print(f"\nNote: {warning}")
    serious = quality.filter(pl.col("severity") != "info") if quality.height else quality
    if serious.height:
        print("\nData quality (see `inspect` for the details):")
        for row in serious.iter_rows(named=True):
            where = f"{row['file']}: " if row["file"] else ""
            print(f"  [{row['severity']}] {where}{row['rule']}: {row['rows']:,} row(s); {row['effect']}")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "catalog":
        print(catalog_markdown(), end="")
        return 0
    try:
        if (done := analysis_cli.run(args)) is not None:
            return done
        if args.command == "changes":
            return changes_command(args)
        if args.command == "snapshots":
            return snapshots_command(args)
        if args.command == "forecast":
            return forecast_command(args)
        if args.command == "pack":
            return pack_command(args)
        return inspect(args) if args.command == "inspect" else compute(args)
    except (DataError, ValueError, KeyError, OSError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        print(f"error: {message}", file=sys.stderr)
        return 2


def inspect(args: argparse.Namespace) -> int:
    imports, skipped = _read(args.files, args.profiles)
    if not imports:
        raise DataError("; ".join(s.removeprefix("skipped ") for s in skipped))
    dataset = Dataset.prepare(combine(imports))
    if args.format == "json":
        unusable = [
            {"file": message.removeprefix("skipped ").split(":", 1)[0], "error": message.removeprefix("skipped ")}
            for message in skipped
        ]
        print(json.dumps([_describe(i) for i in imports] + unusable, indent=1, default=str))
        return 0
    for imported in imports:
        _print_import(imported)
    for message in skipped:
        print(f"== {message.removeprefix('skipped ').split(':', 1)[0]}\n{message}\n")
    print(_as_of_line(dataset))
    if dataset.quality is not None and dataset.quality.height:
        print("across files:")
        for row in dataset.quality.iter_rows(named=True):
            example = f" ({row['example']})" if row["example"] else ""
            print(
                f"  [{row['severity']}] {row['table']}: {row['rule']}: {row['rows']:,} row(s); {row['effect']}{example}"
            )
    return 0


def _describe(imported: FileImport) -> dict[str, Any]:
    grid = imported.grid
    return {
        "file": imported.name,
        "source": imported.source,
        "source_reason": imported.source_reason,
        "encoding": grid.encoding,
        "delimiter": grid.delimiter,
        "sheet": grid.sheet,
        "sheets": list(grid.sheets),
        "header_row": grid.header_row + 1,
        "footer_rows_dropped": grid.footer_rows,
        "as_of_hint": imported.as_of_hint,
        "tables": [
            {
                "kind": t.kind,
                "rows": t.frame.height,
                "signature": t.signature,
                "mapping": [
                    {"column": m.original, "maps_to": m.canonical, "confidence": m.confidence, "note": m.note}
                    for m in t.mapping
                ],
                "stage_map": t.stage_map.to_dicts() if t.stage_map is not None else None,
            }
            for t in imported.tables
        ],
        "quality": imported.quality.to_dicts(),
        "suggestions": [
            {"column": f.column, "looks_like": f.looks_like, "could_be": list(f.suggest)} for f in imported.suggestions
        ],
    }


def _print_import(imported: FileImport) -> None:
    grid = imported.grid
    where = f", sheet {grid.sheet!r} of {len(grid.sheets)}" if grid.sheet else ""
    delimiter = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}.get(
        grid.delimiter or "", grid.delimiter or "-"
    )
    print(f"== {imported.name}")
    print(f"source: {imported.source} ({imported.source_reason})")
    print(
        f"encoding: {grid.encoding}; delimiter: {delimiter}{where}; header on row {grid.header_row + 1}; "
        f"{grid.footer_rows} footer/total row(s) dropped"
    )
    if imported.as_of_hint:
        print(f"export date found in the file: {imported.as_of_hint}")
    for table in imported.tables:
        print(f"table: {table.kind} ({table.frame.height:,} rows)")
        width = max(len(m.original) for m in table.mapping)
        for m in table.mapping:
            target = m.canonical or "-"
            print(f"  {m.original.ljust(width)}  ->  {target:<20} {m.confidence:>4.2f}  {m.note}")
        if table.stage_map is not None and table.stage_map.height:
            print("  stage map (pipeline, order, stage, status, probability, deals: open/won/lost, decided by):")
            for row in table.stage_map.iter_rows(named=True):
                prob = "" if row["probability"] is None else f"{row['probability']:.0%}"
                status = row["status"] or "mixed"
                counts = f"{row['open']:,}/{row['won']:,}/{row['lost']:,}"
                print(
                    f"    {row['pipeline']:<16} {row['order']:>3}  {row['stage']:<28} {status:<5} {prob:>5} "
                    f"{row['deals']:>7,}: {counts:<15} {row['decided_by']}"
                )
    if imported.suggestions:
        print("unused columns that look meaningful:")
        for found in imported.suggestions:
            target = f"; could be {' or '.join(found.suggest)}" if found.suggest else ""
            print(f"  {found.column}: {found.looks_like}{target}")
    if imported.quality.height:
        print("data quality:")
        for row in imported.quality.iter_rows(named=True):
            example = f" (e.g. {row['example']})" if row["example"] else ""
            print(f"  [{row['severity']}] {row['rule']}: {row['rows']:,} row(s); {row['effect']}{example}")
    else:
        print("data quality: no problems found")
    print()


def _store(args: argparse.Namespace) -> SnapshotStore:
    """The team's snapshot store, or the sample company's own workspace with ``--sample``."""
    from kpi_core.snapshots import SnapshotStore, sample_home

    return SnapshotStore(sample_home()) if getattr(args, "sample_history", False) else SnapshotStore()


def _side(refs: Sequence[str], fy: int, store: SnapshotStore) -> tuple[str, Dataset]:
    """Deals of one side of a comparison: export files, or a stored snapshot."""
    if all(Path(r).exists() for r in refs):
        imports, skipped = _read(refs, None)
        if skipped:
            raise DataError("; ".join(s.removeprefix("skipped ") for s in skipped))
        stated = export_as_of(imports)
        label = ", ".join(Path(r).name for r in refs)
        return label, Dataset.prepare(
            combine(imports),
            as_of=stated[0] if stated else None,
            as_of_source=stated[1] if stated else None,
            settings=Settings(fiscal_year_start=fy),
        )
    if len(refs) != 1:
        missing = [r for r in refs if not Path(r).exists()]
        raise DataError(f"{', '.join(missing)}: no such file")
    snapshot, tables = store.load(refs[0])
    return f"{snapshot.name} ({snapshot.as_of})", Dataset.prepare(
        tables, as_of=snapshot.as_of, settings=Settings(fiscal_year_start=fy)
    )


def changes_command(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from kpi_core import periods
    from kpi_core.changes import check_same_pipeline, push_counts, what_changed

    store = _store(args)
    before_label, before = _side(args.before, args.fiscal_year_start, store)
    after_label, after = _side(args.after, args.fiscal_year_start, store)
    if not before.has("deals") or not after.has("deals"):
        raise DataError("both sides need a deals export")
    check_same_pipeline(before.table("deals"), after.table("deals"), before_label, after_label)
    period = periods.parse(args.period, args.fiscal_year_start) if args.period else None
    result = what_changed(before.table("deals"), after.table("deals"), period, after.stage_order)
    pushes = push_counts([before.table("deals"), after.table("deals")])
    result = replace(result, deals=result.deals.join(pushes, on="deal_id", how="left"))
    if args.format == "json":
        deals = [
            {k: (v.isoformat() if isinstance(v, date) else _clean(v)) for k, v in row.items()}
            for row in result.deals.iter_rows(named=True)
        ]
        print(
            json.dumps(
                {
                    "from": before_label,
                    "to": after_label,
                    "period": period.label if period else "all open pipeline",
                    "waterfall": result.waterfall,
                    "counts": result.counts,
                    "deals": deals,
                },
                indent=1,
            )
        )
        return 0
    currency = after.currency
    print(f"From {before_label} to {after_label} · {period.label if period else 'all open pipeline'}")
    for key, value in result.waterfall.items():
        sign = "" if key in ("start", "end") else ("+" if key in ("new", "pulled_in", "reopened", "increased") else "-")
        count = f"{result.counts.get(key, 0):>6,} deal(s)" if key not in ("start", "end") else ""
        amount = sign + format_value(value, "currency", currency)
        print(f"  {key.replace('_', ' '):<12} {amount:>16}  {count}")
    return 0


def snapshots_command(args: argparse.Namespace) -> int:
    store = _store(args)
    if args.action == "list":
        for s in store.list():
            print(f"{s.id}  {s.as_of}  {s.name}  ({', '.join(s.tables)})")
        return 0
    if args.action == "save":
        raw: dict[str, pl.DataFrame] = {}
        sources: list[tuple[str, str]] = []
        mapping: dict[str, dict[str, str]] = {}
        hint = None
        found: list[pl.DataFrame] = []  # what the import found in the files, kept with the snapshot
        if args.sample:
            from sample_data import load_sample

            raw.update(load_sample())
            sources.append(("sample company", ""))
        if args.args:
            imports, skipped = _read(args.args, None)
            if skipped:
                raise DataError("; ".join(s.removeprefix("skipped ") for s in skipped))
            raw.update(combine(imports))
            sources += [(Path(f).name, hashlib.sha256(Path(f).read_bytes()).hexdigest()) for f in args.args]
            mapping = {
                i.name: {m.original: m.canonical for t in i.tables for m in t.mapping if m.canonical} for i in imports
            }
            hint = next((i.as_of_hint for i in imports if i.as_of_hint), None)
            found = [i.quality for i in imports if i.quality.height]
        if not raw:
            raise DataError("nothing to save: give export files or --sample")
        as_of = args.as_of or export_date(hint) or Dataset.prepare(dict(raw)).as_of
        snapshot = store.save(
            raw,
            as_of=as_of,
            name=args.name,
            sources=sources,
            mapping=mapping,
            quality=pl.concat(found, how="diagonal_relaxed") if found else None,
        )
        print(f"saved {snapshot.id}  {snapshot.as_of}  {snapshot.name}")
        return 0
    if args.action == "rename":
        if len(args.args) != 2:
            raise DataError("rename needs SNAPSHOT NAME")
        snapshot = store.rename(args.args[0], args.args[1])
        print(f"renamed {snapshot.id} to {snapshot.name}")
        return 0
    if len(args.args) != 1:
        raise DataError("delete needs SNAPSHOT")
    snapshot = store.delete(args.args[0])
    print(f"deleted {snapshot.id}  {snapshot.name}")
    return 0


def forecast_command(args: argparse.Namespace) -> int:
    from kpi_core.forecast import forecast_accuracy, prepare_history

    store = _store(args)
    stored = store.list()
    if len(stored) < 2:
        raise DataError("forecast accuracy needs at least two snapshots: save weekly exports with `snapshots save`")
    history = prepare_history([(s.as_of, store.load(s.id)[1]) for s in stored])
    frame = forecast_accuracy(history, grain=args.grain, by=args.by, weekly=args.weekly)
    if args.format == "json":
        rows = [
            {k: (v.isoformat() if isinstance(v, date) else _clean(v)) for k, v in r.items()}
            for r in frame.iter_rows(named=True)
        ]
        print(json.dumps({"rows": rows}, indent=1))
    elif args.format == "csv":
        sys.stdout.write(neutralise(frame).write_csv())
    else:
        if frame.height == 0:
            print("No closed period has a snapshot from its start yet.")
        for r in frame.iter_rows(named=True):
            segment = " ".join(str(r[d]) for d in args.by)
            print(
                f"{r['period']:<10} {segment:<16} forecast on {r['snapshot']}: {format_value(r['forecast'], 'currency'):>14} "
                f"actual {format_value(r['actual'], 'currency'):>14}  accuracy {format_value(r['accuracy'], 'percent'):>7}"
            )
    return 0


def pack_command(args: argparse.Namespace) -> int:
    """The meeting pack of a review notebook on the newest snapshot (or ``--snapshot``), compared with the one
    before it: the same deck the Weekly review page downloads, for a scheduled Monday job."""
    import importlib

    from kpi_core.notebook import WEEKLY_REVIEW, NotebookStore

    store = _store(args)
    snapshots = store.list()
    if not snapshots:
        how = (
            "fill the sample company's history first: python -m sample_data --snapshots"
            if args.sample_history
            else "keep each week's export as a snapshot (python -m kpi_core snapshots save EXPORT.csv, or "
            "'Keep as the snapshot' on the Data page); the pack compares the newest with the one before it"
        )
        raise DataError(f"no snapshots kept in {store.home} yet: {how}")
    ordered = [s.id for s in snapshots]
    position = ordered.index(store.get(args.snapshot).id) if args.snapshot else len(ordered) - 1
    book = NotebookStore().load(args.notebook or WEEKLY_REVIEW.name)
    # the pack is the one command that draws: its renderer (Altair, python-pptx, fpdf2) lives with the app's
    # ui package and is imported here only, so the rest of kpi_core stays pure
    try:
        review = importlib.import_module("ui.review")
    except ImportError as exc:
        raise DataError(f"the pack needs the app's ui package ({exc}): run it from the project folder") from exc
    company = args.company if args.company is not None else "Sample company" if args.sample_history else ""
    # the weeks before the previous one are read as their pipeline (kept on disk), as the review page reads them
    data, refused = review.load_review(store, ordered, position, company=company, pipeline=store.pipeline)
    results = [review.run_cell(cell, data) for cell in book.cells]
    build = review.pptx if args.format == "pptx" else review.pdf
    content = build(book.name, results, data.quality_note, data.latest.as_of, data=data)
    args.out.write_bytes(content)
    compared = f", compared with {data.previous_label}" if data.previous_label else ", nothing to compare with"
    made = len(review.shown(results))
    print(f"wrote {args.out}: {book.name!r}, {made} of {len(results)} cells, on {data.latest_label}{compared}")
    for line in review.left_out(results, notes=True):  # what the title slide says is not in the pack
        print(f"  not in the pack: {line}")
    if refused:
        print(f"note: {refused}", file=sys.stderr)
    return 0
