"""What changed between two snapshots of the pipeline: every deal in exactly one category, and a waterfall
that balances to the cent.

``start + new + pulled_in + reopened + increased - won - lost - pushed_out - removed - decreased = end``,
where start and end are the open pipeline in scope in each snapshot. Outgoing categories count the earlier
snapshot's amount, incoming ones the later snapshot's, changes the difference.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from kpi_core.model import DataError
from kpi_core.periods import Period

CATEGORIES: tuple[str, ...] = (
    "removed",
    "won",
    "lost",
    "pushed_out",
    "reopened",
    "new",
    "pulled_in",
    "increased",
    "decreased",
    "unchanged",
)
"""In the order they are decided: a deal takes the first that fits."""
OUTGOING = ("won", "lost", "pushed_out", "removed", "decreased")
INCOMING = ("new", "pulled_in", "reopened", "increased")
COLUMNS = ("deal_id", "deal_name", "owner", "stage", "status", "amount", "close_date")


@dataclass(frozen=True)
class Changes:
    """The waterfall (amounts), deals per category, and one row per deal that moved or stayed in scope."""

    waterfall: dict[str, float]
    counts: dict[str, int]
    deals: pl.DataFrame


def deal_key(column: str = "deal_id") -> pl.Expr:
    """Deal ids as one record each: a Salesforce 18-character id is the same record as its 15-character form."""
    text = pl.col(column).cast(pl.String).str.strip_chars()
    return pl.when(text.str.contains(r"^[a-zA-Z0-9]{18}$")).then(text.str.slice(0, 15)).otherwise(text)


def _side(deals: pl.DataFrame, suffix: str, period: Period | None) -> pl.DataFrame:
    present = [c for c in COLUMNS if c in deals.columns]
    frame = deals.select(present).with_columns(
        deal_id=deal_key(),
        status=pl.col("status").cast(pl.String).fill_null("open") if "status" in present else pl.lit("open"),
        amount=pl.col("amount").cast(pl.Float64) if "amount" in present else pl.lit(None, pl.Float64),
    )
    if "close_date" not in frame.columns:
        frame = frame.with_columns(close_date=pl.lit(None, pl.Date))
    in_period = (
        pl.col("close_date").is_between(period.start, period.end, closed="left").fill_null(False)
        if period and period.grain != "all"
        else pl.lit(True)
    )
    frame = frame.with_columns(
        in_period=in_period,
        cents=(pl.col("amount").fill_null(0.0) * 100).round(0).cast(pl.Int64),
    ).with_columns(in_scope=(pl.col("status") == "open") & pl.col("in_period"))
    frame = frame.unique("deal_id", keep="last", maintain_order=True)
    return frame.rename({c: f"{c}{suffix}" for c in frame.columns if c != "deal_id"})


def what_changed(
    before: pl.DataFrame, after: pl.DataFrame, period: Period | None = None, stage_order: Sequence[str] = ()
) -> Changes:
    """Classify every deal in scope in either snapshot and build the balancing waterfall.

    ``before`` and ``after`` are deals tables with at least deal_id, status (open/won/lost) and amount; a
    ``period`` limits the scope to open deals closing in it (None: all open pipeline).

    >>> import polars as pl
    >>> b = pl.DataFrame({"deal_id": ["1", "2"], "status": ["open", "open"], "amount": [100.0, 50.0]})
    >>> a = pl.DataFrame({"deal_id": ["1", "3"], "status": ["won", "open"], "amount": [100.0, 70.0]})
    >>> what_changed(b, a).counts
    {'removed': 1, 'won': 1, 'new': 1}
    """
    joined = _side(before, "_before", period).join(
        _side(after, "_after", period), on="deal_id", how="full", coalesce=True
    )
    b_scope = pl.col("in_scope_before").fill_null(False)
    a_scope = pl.col("in_scope_after").fill_null(False)
    b_seen = pl.col("status_before").is_not_null()
    a_seen = pl.col("status_after").is_not_null()
    a_status = pl.col("status_after")
    category = (
        pl.when(b_scope & ~a_seen)
        .then(pl.lit("removed"))
        .when(b_scope & (a_status == "won"))
        .then(pl.lit("won"))
        .when(b_scope & (a_status == "lost"))
        .then(pl.lit("lost"))
        .when(b_scope & ~a_scope)
        .then(pl.lit("pushed_out"))
        .when(a_scope & b_seen & (pl.col("status_before") != "open"))
        .then(pl.lit("reopened"))
        .when(a_scope & ~b_seen)
        .then(pl.lit("new"))
        .when(a_scope & ~b_scope)
        .then(pl.lit("pulled_in"))
        .when(b_scope & a_scope & (pl.col("cents_after") > pl.col("cents_before")))
        .then(pl.lit("increased"))
        .when(b_scope & a_scope & (pl.col("cents_after") < pl.col("cents_before")))
        .then(pl.lit("decreased"))
        .when(b_scope & a_scope)
        .then(pl.lit("unchanged"))
    )
    outgoing = pl.col("category").is_in(["removed", "won", "lost", "pushed_out"])
    incoming = pl.col("category").is_in(["new", "pulled_in", "reopened"])
    moved = pl.col("cents_after").fill_null(0) - pl.col("cents_before").fill_null(0)
    cents = (
        pl.when(outgoing)
        .then(pl.col("cents_before"))
        .when(incoming)
        .then(pl.col("cents_after"))
        .when(pl.col("category").is_in(["increased", "decreased"]))
        .then(moved.abs())
        .otherwise(0)
    )
    rank = {stage: i for i, stage in enumerate(stage_order)}
    stage_move = pl.lit(None, pl.String)
    if rank and "stage_before" in joined.columns and "stage_after" in joined.columns:
        rb = pl.col("stage_before").cast(pl.String).replace_strict(rank, default=None, return_dtype=pl.Int32)
        ra = pl.col("stage_after").cast(pl.String).replace_strict(rank, default=None, return_dtype=pl.Int32)
        stage_move = (
            pl.when(ra > rb)
            .then(pl.lit("advanced"))
            .when(ra < rb)
            .then(pl.lit("regressed"))
            .when(ra == rb)
            .then(pl.lit("same"))
        )
    deals = (
        joined.with_columns(category=category)
        .filter(pl.col("category").is_not_null())
        .with_columns(cents=cents, stage_move=stage_move)
    )
    totals = dict(deals.group_by("category").agg(pl.col("cents").sum()).iter_rows())
    start = int(deals.filter(b_scope)["cents_before"].sum())
    end = int(deals.filter(a_scope)["cents_after"].sum())
    waterfall = {"start": start / 100}
    for name in ("new", "pulled_in", "reopened", "increased", "won", "lost", "pushed_out", "removed", "decreased"):
        waterfall[name] = int(totals.get(name, 0)) / 100
    waterfall["end"] = end / 100
    counts = {
        name: n for name, n in deals.group_by("category").len().sort("category").iter_rows() if name != "unchanged"
    }
    counts = {name: counts[name] for name in CATEGORIES if name in counts}
    out = deals.select(
        "deal_id",
        "category",
        _either(deals, "deal_name").alias("deal_name"),
        _either(deals, "owner").alias("owner"),
        pl.col("amount_before"),
        pl.col("amount_after"),
        (pl.col("cents") / 100).alias("effect"),
        pl.col("status_before"),
        pl.col("status_after"),
        *[pl.col(c).cast(pl.String) for c in ("stage_before", "stage_after") if c in deals.columns],
        pl.col("close_date_before"),
        pl.col("close_date_after"),
        pl.col("stage_move"),
    ).with_columns(
        _order=pl.col("category").replace_strict({c: i for i, c in enumerate(CATEGORIES)}, return_dtype=pl.Int32)
    )
    out = out.sort(["_order", "effect"], descending=[False, True]).drop("_order")
    return Changes(waterfall, counts, out)


def _either(deals: pl.DataFrame, column: str) -> pl.Expr:
    """The later snapshot's value, else the earlier one's (a text column)."""
    parts: list[pl.Expr] = [
        pl.col(f"{column}{side}").cast(pl.String)
        for side in ("_after", "_before")
        if f"{column}{side}" in deals.columns
    ]
    return pl.coalesce(parts) if parts else pl.lit(None, pl.String)


def balance(waterfall: dict[str, float]) -> float:
    """``end`` computed from the waterfall's movements (equals ``waterfall['end']``)."""
    cents = {k: round(v * 100) for k, v in waterfall.items()}
    total = (
        cents["start"]
        + sum(cents[k] for k in ("new", "pulled_in", "reopened", "increased"))
        - sum(cents[k] for k in ("won", "lost", "pushed_out", "removed", "decreased"))
    )
    return total / 100


def push_counts(snapshots: Sequence[pl.DataFrame]) -> pl.DataFrame:
    """How many times each deal's close date moved later across consecutive snapshots (oldest first)."""
    parts = [
        s.select(deal_key().alias("deal_id"), pl.col("close_date"))
        .with_columns(_n=pl.lit(i))
        .unique("deal_id", keep="last")
        for i, s in enumerate(snapshots)
        if "close_date" in s.columns
    ]
    if not parts:
        return pl.DataFrame(schema={"deal_id": pl.String, "pushes": pl.UInt32})
    stacked = pl.concat(parts).sort("deal_id", "_n")
    return (
        stacked.with_columns(
            pushed=(pl.col("close_date") > pl.col("close_date").shift(1).over("deal_id")).fill_null(False)
        )
        .group_by("deal_id")
        .agg(pl.col("pushed").sum().alias("pushes"))
        .sort("pushes", "deal_id", descending=[True, False])
    )


def shared_deals(before: pl.DataFrame, after: pl.DataFrame) -> float:
    """The share of the smaller side's deals that the other side also has (1.0 for week-to-week exports of one
    pipeline, near 0 for two different companies).

    >>> a = pl.DataFrame({"deal_id": ["1", "2", "3"]}); b = pl.DataFrame({"deal_id": ["2", "3", "4", "5"]})
    >>> shared_deals(a, b)
    0.6666666666666666
    """
    sample = max(before.height, after.height) > SHARE_SAMPLED_FROM

    def keys(frame: pl.DataFrame) -> pl.Series:
        if sample:  # the same 1 in 16 ids on both sides (chosen by a hash of the id's Salesforce 15-character form)
            prefix = pl.col("deal_id").cast(pl.String).str.strip_chars().str.slice(0, 15)
            frame = frame.filter(prefix.hash(seed=11) % 16 == 0)
        return frame.select(deal_key()).to_series().drop_nulls().unique()

    ids = [keys(before), keys(after)]
    smaller = min(ids[0].len(), ids[1].len())
    return int(ids[0].is_in(ids[1].implode()).sum()) / smaller if smaller else 1.0


SHARE_SAMPLED_FROM = 200_000
"""From this many deals up, the share of shared deals is measured on the same sixteenth of the ids on both sides."""


SAME_PIPELINE_SHARE = 0.2
"""Weekly exports of one pipeline share at least this much of the smaller one's deals (most, in practice)."""


def same_pipeline(before: pl.DataFrame, after: pl.DataFrame) -> bool:
    """Whether two deals tables are exports of one pipeline (they share deals); tables under 5 deals always are."""
    return min(before.height, after.height) < 5 or shared_deals(before, after) >= SAME_PIPELINE_SHARE


def check_same_pipeline(before: pl.DataFrame, after: pl.DataFrame, before_label: str, after_label: str) -> None:
    """Refuse to compare two snapshots that share (almost) no deals: they are different companies or pipelines.

    Weekly exports of one pipeline keep most of their deals from one week to the next."""
    if min(before.height, after.height) < 5:
        return
    share = shared_deals(before, after)
    if share < SAME_PIPELINE_SHARE:
        raise DataError(
            f"{before_label} and {after_label} share {share:.0%} of their deals: they look like two different "
            "companies or pipelines, so they are not compared. Compare snapshots of the same export."
        )


def stage_history_from(snapshots: Sequence[tuple[object, pl.DataFrame]]) -> pl.DataFrame:
    """Stage history rebuilt from snapshots (oldest first) for files that carry none: a deal entered a stage on
    the date of the first snapshot that shows it there. Columns deal_id, stage, entered_at.

    >>> from datetime import date
    >>> weeks = [(date(2026, 1, 2), pl.DataFrame({"deal_id": ["a"], "stage": ["Prospecting"]})),
    ...          (date(2026, 1, 9), pl.DataFrame({"deal_id": ["a"], "stage": ["Proposal"]}))]
    >>> stage_history_from(weeks)["stage"].to_list()
    ['Prospecting', 'Proposal']
    """
    parts = [
        deals.select(deal_key().alias("deal_id"), pl.col("stage").cast(pl.String)).with_columns(
            entered_at=pl.lit(day).cast(pl.Datetime("us"))
        )
        for day, deals in snapshots
        if "stage" in deals.columns
    ]
    if not parts:
        return pl.DataFrame(schema={"deal_id": pl.String, "stage": pl.String, "entered_at": pl.Datetime("us")})
    seen = pl.concat(parts).drop_nulls(["deal_id", "stage"]).sort("deal_id", "entered_at")
    changed = pl.col("stage").ne_missing(pl.col("stage").shift(1).over("deal_id"))
    return seen.filter(changed)
