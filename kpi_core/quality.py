"""Data quality as data: each check returns rows of (rule, table, file, rows, example, severity, effect)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import polars as pl

SCHEMA = {
    "rule": pl.String,
    "table": pl.String,
    "file": pl.String,
    "rows": pl.Int64,
    "example": pl.String,
    "severity": pl.String,
    "effect": pl.String,
}
EMPTY = pl.DataFrame(schema=SCHEMA)


def issue(rule: str, table: str, file: str, rows: int, example: str, severity: str, effect: str) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "rule": rule,
                "table": table,
                "file": file,
                "rows": rows,
                "example": example[:200],
                "severity": severity,
                "effect": effect,
            }
        ],
        schema=SCHEMA,
    )


def _example(frame: pl.DataFrame, mask: pl.Expr, columns: list[str]) -> str:
    row = frame.filter(mask).select([c for c in columns if c in frame.columns]).head(1)
    return ", ".join(f"{k}={v}" for k, v in row.to_dicts()[0].items()) if row.height else ""


def check_table(
    kind: str, frame: pl.DataFrame, file: str, *, today: date | None = None, generated_ids: bool = False
) -> pl.DataFrame:
    """The data-quality rules for one canonical table."""
    rows: list[pl.DataFrame] = [EMPTY]
    if frame.height == 0:
        return EMPTY

    pending: list[tuple[str, pl.Expr, str, str, list[str]]] = []
    # queries whose results decide an issue: run with the rules' counts, all at once (Polars runs them side by side)
    later: list[tuple[pl.LazyFrame, Callable[[pl.DataFrame], None]]] = []

    def rule(name: str, mask: pl.Expr, severity: str, effect: str, cols: list[str]) -> None:
        pending.append((name, mask.fill_null(False), severity, effect, cols))

    if kind == "deals":
        cols = ["deal_id", "deal_name", "stage", "amount", "close_date"]
        has = set(frame.columns)
        if "amount" in has:
            rule("missing amount", pl.col("amount").is_null(), "warning", "not in revenue, pipeline or deal size", cols)
            rule("negative amount", pl.col("amount") < 0, "warning", "reduces revenue and pipeline sums", cols)
        if "close_date" in has:
            rule(
                "missing close date (open deals)",
                pl.col("close_date").is_null() & (pl.col("status") == "open"),
                "info",
                "open deals without a close date count only in all-time pipeline",
                cols,
            )
            rule(
                "closed deal without a close date",
                pl.col("close_date").is_null() & pl.col("status").is_in(["won", "lost"]),
                "warning",
                "in no period: counted in all-time won revenue, deals won, win rate and deal size, left out of every "
                "period and of the sales cycle",
                cols,
            )
            rule(
                "won deal closing in the future",
                (pl.col("status") == "won") & (pl.col("close_date") > (today or date.today())),
                "warning",
                "counted in a future period",
                cols,
            )
        if {"created_date", "close_date"} <= has:
            rule(
                "created after close",
                pl.col("created_date") > pl.col("close_date"),
                "warning",
                "left out of the sales cycle (a deal cannot close before it is created)",
                cols,
            )
        if "deal_id" in has and not generated_ids:
            rule(
                "duplicate deal ids",
                pl.col("deal_id").is_duplicated() & pl.col("deal_id").is_not_null(),
                "warning",
                "the deal counts more than once",
                cols,
            )
        if "status" in has:
            rule(
                "deals with no stage or status",
                pl.col("status").is_null(),
                "warning",
                "status unknown: left out of won, lost and open",
                cols,
            )
        if "stage" in has and "status" in has:
            from kpi_core.prepare import _stage_hint

            # only where the stage name decided the status (flags and status columns are certain)
            by_name = pl.col("__status_from") == "the stage name" if "__status_from" in frame.columns else pl.lit(True)
            named = frame.lazy().filter(by_name)

            def unknown_stages(open_stages: pl.DataFrame) -> None:
                stages = open_stages.to_series().to_list()
                unknown = [s for s in stages if _stage_hint(str(s)) >= 5 and not _looks_open(str(s))]
                if unknown:
                    rows.append(
                        issue(
                            "unknown stages (treated as open)",
                            kind,
                            file,
                            named.filter(pl.col("stage").is_in(unknown)).select(pl.len()).collect().item(),
                            ", ".join(map(str, unknown[:5])),
                            "warning",
                            "counted as open pipeline; set their status in the stage map",
                        )
                    )

            later.append(
                (named.filter(pl.col("status") == "open").select(pl.col("stage").drop_nulls().unique()), unknown_stages)
            )
        if "currency" in has:

            def mixed_currencies(found: pl.DataFrame) -> None:
                currencies = found.to_series().to_list()
                if len(currencies) > 1:
                    rows.append(
                        issue(
                            "mixed currencies",
                            kind,
                            file,
                            frame.height,
                            ", ".join(sorted(map(str, currencies))),
                            "warning",
                            "money KPIs are given per currency unless a rate table is uploaded",
                        )
                    )

            later.append((frame.lazy().select(pl.col("currency").drop_nulls().unique()), mixed_currencies))
    if kind == "leads" and "lead_id" in frame.columns:
        rule(
            "duplicate lead ids",
            pl.col("lead_id").is_duplicated(),
            "warning",
            "the lead counts more than once",
            ["lead_id"],
        )
        if "first_response_at" in frame.columns and "created_at" in frame.columns:
            rule(
                "response before creation",
                pl.col("first_response_at") < pl.col("created_at"),
                "warning",
                "left out of response time",
                ["lead_id", "created_at", "first_response_at"],
            )
    if kind == "activities" and "activity_date" in frame.columns:
        rule(
            "activities without a date",
            pl.col("activity_date").is_null(),
            "warning",
            "in no period",
            ["activity_id", "type"],
        )
    queries = [query for query, _ in later]
    if pending:  # one pass over the table for every rule's count; examples only where something was found
        queries.append(frame.lazy().select([p[1].sum().alias(str(i)) for i, p in enumerate(pending)]))
    found = pl.collect_all(queries) if queries else []
    for (_, decide), result in zip(later, found, strict=False):
        decide(result)
    if pending:
        counts = found[-1].row(0)
        for (name, mask, severity, effect, cols), count in zip(pending, counts, strict=True):
            if count:
                rows.append(issue(name, kind, file, int(count), _example(frame, mask, cols), severity, effect))
    return pl.concat(rows, how="vertical_relaxed")


def _looks_open(stage: str) -> bool:
    words = (
        "open",
        "new",
        "pending",
        "working",
        "review",
        "lead",
        "meeting",
        "trial",
        "pilot",
        "evaluat",
        "won",
        "lost",
        "closed",
    )
    return any(w in stage.lower() for w in words)
