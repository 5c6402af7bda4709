"""The analysis commands: ``python -m kpi_core leading`` (what leads revenue, by how many weeks),
``python -m kpi_core drivers`` (why won revenue changed: closed deals, win rate, deal size) and
``python -m kpi_core coaching`` (the 1:1: one rep against their team, beyond the noise, with the revenue at stake).

``kpi_core.cli`` adds these parsers with :func:`add_parsers` and hands the parsed arguments to :func:`run`.
"""

from __future__ import annotations

import argparse
import json
import math
from datetime import date
from pathlib import Path
from typing import Any

from kpi_core import coaching as C
from kpi_core import drivers as D
from kpi_core import leading as L
from kpi_core.formatting import SYMBOLS, format_cell, format_value
from kpi_core.model import DataError, Dataset
from kpi_core.periods import GRAINS
from kpi_core.registry import BY_ID

LEAD_COLUMNS = (
    "indicator",
    "target",
    "lag_weeks",
    "correlation",
    "ci_low",
    "ci_high",
    "p_value",
    "significant",
    "weeks",
    "stable",
    "reverse_correlation",
    "same_week",
    "same_week_correlation",
    "same_week_p",
    "strength",
    "step",
    "effect",
    "note",
)
"""The keys of each row of ``leading --format json`` (then ``finding``, the plain sentence, and the ``--by``
dimension); ``p_value`` is adjusted for every pair and lag the command measured (the top-level ``family``)."""


def _common(command: argparse.ArgumentParser, *, filters: bool = True) -> None:
    """The data options every command that reads files has (the same as ``compute``)."""
    command.add_argument("files", nargs="*", help="canonical CSV or Parquet files, or CRM exports")
    command.add_argument("--sample", action="store_true", help="use the built-in sample company")
    if filters:
        command.add_argument(
            "--filter", action="append", default=[], metavar="DIM=VALUE", help="keep one segment (repeatable)"
        )
    command.add_argument(
        "--as-of", type=date.fromisoformat, help="as-of date YYYY-MM-DD (default: latest date in the data)"
    )
    command.add_argument("--fiscal-year-start", type=int, default=1, metavar="MONTH")
    command.add_argument("--currency", help="reporting currency, e.g. EUR")
    command.add_argument("--profiles", type=Path, help="folder of saved mapping profiles to apply")


def add_parsers(subparsers: Any) -> None:
    """Add ``leading`` and ``drivers`` to the ``python -m kpi_core`` subcommands."""
    leading = subparsers.add_parser(
        "leading", help="which leading indicators predict revenue here, and by how many weeks"
    )
    _common(leading)
    leading.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="KPI",
        help="the result to predict (repeatable; default: won_revenue and deals_won)",
    )
    leading.add_argument(
        "--indicator",
        action="append",
        default=[],
        metavar="KPI",
        help="a leading KPI to test (repeatable; default: every leading KPI with a weekly series)",
    )
    leading.add_argument("--max-lag", type=int, default=L.MAX_LAG, metavar="WEEKS", help="longest lead tried")
    leading.add_argument("--by", help="measure each segment of this dimension on its own (region, team, owner...)")
    leading.add_argument(
        "--min-weeks", type=int, default=L.MIN_WEEKS, metavar="WEEKS", help="weekly pairs needed at the longest lag"
    )
    leading.add_argument("--permutations", type=int, default=L.PERMUTATIONS, help="block permutations per p-value")
    leading.add_argument("--format", choices=("json", "table"), default="table")

    drivers = subparsers.add_parser(
        "drivers", help="why won revenue changed: closed-deal volume, win rate and deal size, per segment"
    )
    _common(drivers)
    drivers.add_argument("--grain", choices=[g for g in GRAINS if g != "all"], default="quarter")
    drivers.add_argument("--period", help="period label, e.g. 2026-Q4 (default: the one holding the as-of date)")
    drivers.add_argument("--compare", choices=("previous", "last_year"), default="previous")
    drivers.add_argument("--by", help="split by a deals dimension (region, segment, owner...)")
    drivers.add_argument("--format", choices=("json", "table"), default="table")

    coaching = subparsers.add_parser(
        "coaching", help="the 1:1: one rep against their team, where they differ beyond the noise, deals to discuss"
    )
    _common(coaching, filters=False)
    coaching.add_argument("--owner", required=True, help="the rep (a value of --segment)")
    coaching.add_argument("--segment", default="owner", help="compare a value of another dimension (default: owner)")
    coaching.add_argument("--against", choices=C.AGAINST, default="team", help="the peer group (default: team)")
    coaching.add_argument("--grain", choices=GRAINS, default="quarter")
    coaching.add_argument("--period", help="period label, e.g. 2026-Q3 (default: the one holding the as-of date)")
    coaching.add_argument(
        "--history",
        action="store_true",
        help="find slipped deals in the kept snapshots (the sample company's with --sample, else the team's)",
    )
    coaching.add_argument("--out", type=Path, metavar="FILE.pdf", help="also write the one-page PDF for the meeting")
    coaching.add_argument("--format", choices=("json", "table"), default="table")


def run(args: argparse.Namespace) -> int | None:
    """Run ``leading`` or ``drivers``; None for any other command (``kpi_core.cli`` handles those)."""
    if args.command == "leading":
        return leading_command(args)
    if args.command == "drivers":
        return drivers_command(args)
    if args.command == "coaching":
        return coaching_command(args)
    return None


def _filters(items: list[str]) -> dict[str, list[str]]:
    filters: dict[str, list[str]] = {}
    for item in items:
        dim, _, value = item.partition("=")
        if not value:
            raise DataError(f"--filter {item!r}: use DIM=VALUE, e.g. region=EMEA")
        filters.setdefault(dim, []).append(value)
    return filters


def _dataset(args: argparse.Namespace) -> tuple[Dataset, list[str]]:
    """The data the command reads (files and/or the sample, exactly as ``compute`` reads them) and the files
    skipped; the as-of line first in the table format."""
    from kpi_core import cli

    dataset, skipped, _ = cli._load(args)
    if args.format != "json":
        print(cli._as_of_line(dataset))
    return dataset, skipped


def _number(value: Any, digits: int = 4) -> Any:
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else round(value, digits)
    return value


def leading_command(args: argparse.Namespace) -> int:
    if args.max_lag < 1 or args.min_weeks < 3 or args.permutations < 19:
        raise DataError("--max-lag must be 1 or more, --min-weeks 3 or more and --permutations 19 or more")
    dataset, skipped = _dataset(args)
    found = L.find_leads(
        dataset,
        args.indicator or None,
        args.target or None,
        by=args.by,
        filters=_filters(args.filter),
        max_lag=args.max_lag,
        min_weeks=args.min_weeks,
        permutations=args.permutations,
    )
    warnings = skipped + found.warnings
    if args.format == "json":
        rows = [
            {
                **{c: _number(row[c]) for c in LEAD_COLUMNS},
                "finding": L.finding(row, found.currency),
                **({args.by: row[args.by]} if args.by else {}),
            }
            for row in found.frame.iter_rows(named=True)
        ]
        print(json.dumps({"family": found.family, "rows": rows, "warnings": warnings}, indent=1))
        return 0
    header = [
        "Indicator",
        "Target",
        *([args.by] if args.by else []),
        "Lead",
        "Strength",
        "r",
        "95% CI",
        "p (adj.)",
        "Stable",
        "Weeks",
    ]
    lines = [header]
    for row in found.frame.iter_rows(named=True):
        if row["note"]:
            lead, strength, r, ci, p, stable = row["note"], "", "", "", "", ""
        else:
            lead = f"{row['lag_weeks']} wk" + ("" if row["significant"] else " (n.s.)")
            strength = str(row["strength"])
            r = f"{row['correlation']:+.2f}"
            ci = f"{row['ci_low']:+.2f} to {row['ci_high']:+.2f}"
            p = f"{row['p_value']:.3f}"
            stable = {True: "yes", False: "no", None: "-"}[row["stable"]]
        lines.append(
            [
                BY_ID[row["indicator"]].label,
                BY_ID[row["target"]].label,
                *([str(row[args.by])] if args.by else []),
                lead,
                strength,
                r,
                ci,
                p,
                stable,
                str(row["weeks"]),
            ]
        )
    _print_lines(lines, right_from=len(header) - 5)
    if found.family:
        print(f"\np (adj.): adjusted for every pair and lag measured together ({found.family}).")
    leads = found.frame.filter(found.frame["significant"])
    together = found.frame.filter(found.frame["same_week"] & ~found.frame["significant"])
    if leads.height:
        print("\nFindings:")
        for row in leads.iter_rows(named=True):
            where = f"[{row[args.by]}] " if args.by else ""
            print(f"  {where}{L.finding(row, found.currency)}")
    elif found.frame.height:
        print(
            f"\nNo measurable lead: no indicator moves ahead of a result by 1 to {args.max_lag} weeks beyond what "
            "chance gives, once every pair and lag tried is counted."
        )
    if together.height:
        print("\nSame week, no lead:")
        for row in together.iter_rows(named=True):
            where = f"[{row[args.by]}] " if args.by else ""
            print(f"  {where}{L.finding(row, found.currency)}")
    for warning in warnings:
        print(f"\nNote: {warning}")
    return 0


def _print_lines(lines: list[list[str]], *, right_from: int) -> None:
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    for n, line in enumerate(lines):
        cells = [
            c.rjust(w) if i >= right_from else c.ljust(w) for i, (c, w) in enumerate(zip(line, widths, strict=True))
        ]
        print("  ".join(cells).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


def _cents(value: float, currency: str) -> str:
    """Money to the cent, signed: ``+$1,234.50``."""
    symbol = SYMBOLS.get(currency, "")
    sign = "-" if value < 0 else "+"
    text = f"{abs(value):,.2f}"
    return f"{sign}{symbol}{text}" if symbol else f"{sign}{text} {currency}"


def drivers_command(args: argparse.Namespace) -> int:
    dataset, skipped = _dataset(args)
    from kpi_core import periods as P

    fy = dataset.settings.fiscal_year_start
    period = P.parse(args.period, fy) if args.period else P.make(dataset.as_of, args.grain, fy)
    found = D.revenue_drivers(
        dataset, period, grain=args.grain, compare=args.compare, by=args.by, filters=_filters(args.filter)
    )
    if args.format == "json":
        print(json.dumps(found.to_dict(), indent=1))
        return 0
    currency = dataset.currency
    to_date = " (period to date)" if found.period_to_date else ""
    print(f"Won revenue, {found.period}{to_date} against {found.compared_with}: {_cents(found.change, currency)}")
    before, after = found.before, found.after

    def rate(v: float | None) -> str:
        return "-" if v is None else f"{v * 100:.1f}%"

    def size(v: float | None) -> str:
        return "-" if v is None else _cents(v, currency).lstrip("+")

    lines = [
        ["Step", "From", "To", "Effect"],
        ["Won revenue, " + found.compared_with, "", "", _cents(before["revenue"] or 0.0, currency).lstrip("+")],
        [
            "Closed deals",
            f"{before['closed_deals']:,.0f}",
            f"{after['closed_deals']:,.0f}",
            _cents(found.effects["closed_deals"], currency),
        ],
        ["Win rate", rate(before["win_rate"]), rate(after["win_rate"]), _cents(found.effects["win_rate"], currency)],
        [
            "Deal size",
            size(before["deal_size"]),
            size(after["deal_size"]),
            _cents(found.effects["deal_size"], currency),
        ],
        ["Won revenue, " + found.period, "", "", _cents(after["revenue"] or 0.0, currency).lstrip("+")],
    ]
    print()
    _print_lines(lines, right_from=1)
    if args.by and found.rows.height:
        print()
        rows = [[args.by, "Change", "Closed deals", "Win rate", "Deal size"]]
        for row in found.rows.iter_rows(named=True):
            rows.append(
                [
                    str(row[args.by]) if row[args.by] is not None else f"(no {args.by})",
                    _cents(row["change"], currency),
                    *[_cents(row[name], currency) for name in D.EFFECTS],
                ]
            )
        _print_lines(rows, right_from=1)
    print(f"\n{D.explain(found, currency)}")
    for warning in skipped:
        print(f"\nNote: {warning}")
    return 0


def _history(args: argparse.Namespace, dataset: Dataset) -> list[Any] | None:
    """The deals tables of the kept snapshots up to the as-of date, oldest first (None without ``--history``)."""
    if not args.history:
        return None
    from kpi_core.snapshots import SnapshotStore, sample_home

    store = SnapshotStore(sample_home()) if args.sample and not args.files else SnapshotStore()
    kept = [s for s in store.list() if s.as_of <= dataset.as_of]
    return [store.load(s.id)[1].get("deals") for s in sorted(kept, key=lambda s: s.as_of)] or None


def coaching_command(args: argparse.Namespace) -> int:
    dataset, skipped = _dataset(args)
    history = _history(args, dataset)
    found = C.coach(
        dataset,
        args.owner,
        segment=args.segment,
        against=args.against,
        grain=args.grain,
        period=args.period,
        history=[h for h in history if h is not None] if history else None,
    )
    if args.out is not None:
        write_coaching_pdf(found, args.out, _source(args))
    if args.format == "json":
        out = found.to_dict()
        out["warnings"] = [*out["warnings"], *skipped]
        print(json.dumps(out, indent=1))
        return 0
    currency = found.currency
    peers = found.peers
    running = " (period to date)" if found.period.grain != "all" and found.period.contains(found.as_of) else ""
    before = f", beside {found.previous.label}" if found.previous else ""
    print(
        f"1:1 with {found.value}: {found.period.label}{running}{before}, against {peers.words} "
        f"({len(peers.members)} other {'reps' if found.segment == 'owner' else 'values'})"
    )
    print(f"\n{found.summary}")
    for title, sentences in (
        (f"Gaps (worse than {peers.words}, beyond the noise)", found.gaps),
        (f"Strengths (better than {peers.words}, beyond the noise)", found.strengths),
    ):
        if sentences:
            print(f"\n{title}:")
            for i, sentence in enumerate(sentences, start=1):
                print(f"  {i}. {sentence}")
    header = ["Metric", found.value, found.previous.label if found.previous else "Before", "Peers"]
    lines = [[*header, "Difference (95% interval)", "Verdict", "p adjusted", "n", "Revenue effect"]]
    for row in found.differences.iter_rows(named=True):
        unit = row["unit"]
        lines.append(
            [
                row["label"],
                format_value(row["rep_value"], unit, currency),
                format_value(row["rep_previous"], unit, currency),
                format_value(row["peer_value"], unit, currency),
                C.difference_text(row),
                C.verdict_words(row),
                C.p_text(row["p_adjusted"]),
                format_cell(row["n"], "count"),
                C.revenue_text(row["revenue_effect"], currency),
            ]
        )
    print()
    _print_lines(lines, right_from=1)
    print(
        f"\nBeyond the noise: the {found.compared} comparisons are judged together (Holm's correction at "
        f"{C.ALPHA:.0%}: a rep like the team gets any flag at most {C.ALPHA:.0%} of the time) and each interval "
        "leaves out zero; better or worse by each KPI's good direction."
    )
    formulas = [r for r in found.differences.iter_rows(named=True) if r["revenue_formula"] and r["beyond_noise"]]
    if formulas:
        print("\nRevenue effects (what the rep would have won at the peers' value, all else the rep's own):")
        for r in formulas:
            print(f"  {r['label']}: {C.revenue_text(r['revenue_effect'], currency)} = {r['revenue_formula']}")
    print("\nDeals to talk about:")
    if found.deals.height:
        rows = [["Deal", "Stage", "Amount", "Close date", "Flags", "Facts"]]
        for d in found.deals.iter_rows(named=True):
            rows.append(
                [
                    str(d["deal_name"] or d["deal_id"]),
                    d["stage"],
                    format_cell(d["amount"], "currency", currency),
                    format_cell(d["close_date"], "date"),
                    d["flags"],
                    d["facts"],
                ]
            )
        _print_lines(rows, right_from=99)
    else:
        print(f"  none: {found.value} has no open deal that is stalled, past due, slipped or among the largest")
    if history is None:
        print("  (slipped deals come from kept snapshots: add --history)")
    for reason in found.unavailable.values():
        print(f"\nNot measured: {reason}")
    for warning in [*found.warnings, *skipped]:
        print(f"\nNote: {warning}")
    if args.out is not None:
        print(f"\nwrote {args.out}")
    return 0


def _source(args: argparse.Namespace) -> str:
    """The data a command read, as the app's sidebar names it: the sample company, and the files by name.

    >>> _source(argparse.Namespace(sample=False, files=["a/deals.csv", "activities.xlsx"]))
    'Your data: deals.csv, activities.xlsx'
    """
    files = ", ".join(Path(f).name for f in args.files)
    parts = (["Sample company"] if args.sample else []) + ([f"Your data: {files}"] if files else [])
    return " + ".join(parts)


def write_coaching_pdf(found: C.Coaching, out: Path, source: str = "") -> None:
    """The 1:1's one-page PDF; its layout lives with the app's ui package (like the meeting pack's)."""
    import importlib

    try:
        layout = importlib.import_module("ui.coaching_pdf")
    except ImportError as exc:
        raise DataError(f"the PDF needs the app's ui package ({exc}): run it from the project folder") from exc
    out.write_bytes(layout.one_page(found, source=source))
