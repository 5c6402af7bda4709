"""Turn canonical frames into the engine's frames: derive, join lookups, encode once."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, timedelta

import polars as pl

from kpi_core import periods
from kpi_core.model import (
    ACTIVITY_TYPES,
    DIMENSIONS,
    EXISTING_CUSTOMER_TYPES,
    LOOKUPS,
    STATUSES,
    Dataset,
    Settings,
    to_date,
)
from kpi_core.quality import EMPTY as EMPTY_QUALITY
from kpi_core.quality import issue

STATUS_ENUM = pl.Enum(list(STATUSES))

WON_WORDS = (
    "won",
    "closedwon",
    "signed",
    "ganado",
    "ganada",
    "gagne",
    "gagnee",
    "gewonnen",
    "ganho",
    "ganha",
    "vinto",
    "vinta",
    "wygrana",
)
"""Words that make a stage name won (matched whole, accents ignored): English, Spanish, French, German, Dutch,
Portuguese, Italian, Polish."""
LOST_WORDS = (
    "lost",
    "closedlost",
    "dead",
    "disqualified",
    "perdido",
    "perdida",
    "perdu",
    "perdue",
    "verloren",
    "perso",
    "persa",
    "przegrana",
)

DERIVED_FROM: Mapping[str, tuple[str, ...]] = {
    "status": ("stage",),
    "cycle_days": ("created_date", "close_date"),
    "existing_customer": ("account", "close_date"),
    "win_probability": ("stage",),
    "stalled": ("stage", "stage history or activities with deal_id"),
    "overdue": ("close_date",),
    "first_date": ("account", "close_date"),
    "exited_day": ("entered_at",),
    "gross_profit": ("gross_profit",),
    "response_hours": ("created_at", "first_response_at"),
    "day": ("activity_date",),
    "created_day": ("created_at",),
    "reached": ("stage",),
}
"""Engine helper columns -> the canonical columns they are computed from (for 'required data')."""


def _by_unique(frame: pl.DataFrame, column: str, rule: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """Apply a string rule once per distinct value (a few dozen stage names, not a million rows)."""
    values = frame.get_column(column).cast(pl.String).drop_nulls().unique()
    mapped = pl.DataFrame({column: values}).select(pl.col(column), rule.alias("__out"))
    mapping = dict(zip(mapped.get_column(column).to_list(), mapped.get_column("__out").to_list(), strict=True))
    return pl.col(column).cast(pl.String).replace_strict(mapping, default=None, return_dtype=dtype)


def _status_of(frame: pl.DataFrame, column: str) -> pl.Expr:
    return _by_unique(frame, column, _status_from_text(column), pl.String())


def _status_from_text(column: str) -> pl.Expr:
    text = (
        pl.col(column)
        .cast(pl.String)
        .str.normalize("NFKD")
        .str.replace_all(r"\p{Mn}", "")
        .str.to_lowercase()
        .str.replace_all(r"[_\-:]+", " ")  # closed_won, Closed-Lost, Closed: won
    )
    won = text.str.contains(r"\b(" + "|".join(map(re.escape, WON_WORDS)) + r")\b")
    lost = text.str.contains(r"\b(" + "|".join(map(re.escape, LOST_WORDS)) + r")\b")
    return (
        pl.when(text.is_null())
        .then(None)
        .when(won)
        .then(pl.lit("won"))
        .when(lost)
        .then(pl.lit("lost"))
        .otherwise(pl.lit("open"))
    )


def _loose_expr(keys: pl.Series) -> pl.Series:
    """Keys as compared tolerantly: lower case, letters and digits only (``GTX Pro`` ~ ``gtxpro``)."""
    return keys.cast(pl.String).str.to_lowercase().str.replace_all(r"[^0-9a-z]", "")


def _join_lookup(
    frame: pl.DataFrame,
    lookup: pl.DataFrame | None,
    key: str,
    notes: list[pl.DataFrame] | None = None,
    table: str = "",
) -> pl.DataFrame:
    """Left-join a lookup on ``key``; values already on the row win over the lookup's.

    Keys that differ only in case, spacing or punctuation (``GTXPro`` ~ ``GTX Pro``) match tolerantly;
    tolerant and failed matches are added to ``notes``."""
    if lookup is None or key not in frame.columns or key not in lookup.columns:
        return frame
    extra = [c for c in lookup.columns if c != key]
    if not extra:
        return frame
    right = lookup.filter(pl.col(key).is_not_null()).unique(key, keep="first").rename({c: f"__lk_{c}" for c in extra})
    column = frame.get_column(key)
    lookup_keys = right.get_column(key).cast(pl.String)
    looked: pl.DataFrame | None = None
    if isinstance(column.dtype, pl.Enum):  # the categories are every value of the shared Enum: no scan of the rows
        fact_keys = column.dtype.categories
        unmatched = fact_keys.filter(~fact_keys.is_in(lookup_keys.implode()))
    else:
        # joined first, then what found no match is looked at: a 10M-row key column is hashed once
        looked = _looked_up(frame, right.with_columns(__hit=pl.lit(True)), key, {})
        unmatched = (
            column.cast(pl.String)
            .filter(column.is_not_null() & looked.get_column("__hit").is_null())
            .unique(maintain_order=True)
        )
        looked = looked.drop("__hit")
    tolerant: dict[str, str] = {}
    missing: list[str] = []
    if unmatched.len():
        loose = pl.DataFrame({"__loose": _loose_expr(lookup_keys), key: lookup_keys}).unique(
            "__loose", keep="last", maintain_order=True
        )
        found = pl.DataFrame({"__fact": unmatched, "__loose": _loose_expr(unmatched)}).join(
            loose, on="__loose", how="left", maintain_order="left"
        )
        tolerant = {a: b for a, b in found.select("__fact", key).iter_rows() if b is not None}
        missing = [a for a in unmatched.to_list() if a not in tolerant]
    if notes is not None and (tolerant or missing):
        asked = pl.Series([*tolerant, *missing], dtype=pl.String).implode()
        found_rows = frame.select(pl.col(key).cast(pl.String)).filter(pl.col(key).is_in(asked))
        counts = dict(found_rows.group_by(key).len().iter_rows())
        # an Enum's categories hold other tables' values too: report only keys this table has
        noted = {k: v for k, v in tolerant.items() if counts.get(k, 0)}
        missing = [k for k in missing if counts.get(k, 0)]
        if noted:
            rows = sum(counts.get(k, 0) for k in noted)
            example = "; ".join(f"{a} ~ {b}" for a, b in list(noted.items())[:5])
            notes.append(
                issue(
                    f"{key} matched loosely to the {key} lookup",
                    table,
                    "",
                    rows,
                    example,
                    "info",
                    "joined as the same value",
                )
            )
        if missing:
            rows = sum(counts.get(k, 0) for k in missing)
            notes.append(
                issue(
                    f"{key} not in the lookup",
                    table,
                    "",
                    rows,
                    ", ".join(missing[:5]),
                    "warning",
                    "these rows have no value from the lookup (e.g. no region)",
                )
            )
    if looked is None or tolerant:
        looked = _looked_up(frame, right, key, tolerant)
    joined = frame.hstack(looked)
    fills = [
        (pl.coalesce(pl.col(c), pl.col(f"__lk_{c}")) if c in frame.columns else pl.col(f"__lk_{c}")).alias(c)
        for c in extra
    ]
    return joined.with_columns(fills).drop([f"__lk_{c}" for c in extra])


def _looked_up(frame: pl.DataFrame, right: pl.DataFrame, key: str, tolerant: Mapping[str, str]) -> pl.DataFrame:
    """The lookup's columns for every row of ``frame``, in its order (``tolerant`` maps keys to the lookup's)."""
    right = right.with_columns(pl.col(key).cast(pl.String))
    dtype = frame.schema[key]
    if isinstance(dtype, pl.Enum):
        # looked up once per category, then gathered by each row's code: no hashing of a 10M-row column
        per_code = pl.DataFrame({key: dtype.categories}).with_columns(pl.col(key).replace(dict(tolerant)))
        per_code = per_code.join(right, on=key, how="left", maintain_order="left").drop(key)
        return per_code.select(pl.all().gather(frame.get_column(key).to_physical()))
    keys = frame.select(
        pl.col(key).cast(pl.String).replace(dict(tolerant)) if tolerant else pl.col(key).cast(pl.String)
    )
    return keys.join(right, on=key, how="left", maintain_order="left").drop(key)


def _stage_order(
    deals: pl.DataFrame, history: pl.DataFrame | None, settings: Settings, stages: pl.DataFrame | None = None
) -> tuple[str, ...]:
    """The funnel order of the open stages, from what states it: the user's edit, a stages file, a CRM's standard
    picklist, the file's probabilities, then the moves deals made between stages (never the mean rank at which
    stages were entered: a snapshot-rebuilt history enters many stages at once), then the usual words."""
    open_deals = deals.filter(pl.col("status") == "open", pl.col("stage").is_not_null())
    open_stages = [str(s) for s in open_deals.get_column("stage").cast(pl.String).unique().to_list()]
    if history is not None and history.height:  # stages deals passed through count too
        closed = deals.filter(pl.col("status") != "open").get_column("stage").cast(pl.String).unique().to_list()
        passed = history.get_column("stage").cast(pl.String).drop_nulls().unique().to_list()
        open_stages += sorted(str(s) for s in passed if s not in closed and s not in open_stages)
    if settings.stage_order:
        return tuple(settings.stage_order)

    def then_the_rest(order: list[str]) -> tuple[str, ...]:
        rest = sorted((s for s in open_stages if s not in order), key=lambda s: (_stage_hint(s), s))
        return tuple(order + rest)

    if stages is not None and "order" in stages.columns:  # a stages file (Pipedrive stages, a CRM's picklist) says it
        listed = stages.sort("order", nulls_last=True).get_column("stage").cast(pl.String).drop_nulls().to_list()
        return then_the_rest(list(dict.fromkeys(listed)))
    lowered = {s.lower().strip(): s for s in open_stages}
    for standard in KNOWN_STAGES:
        known = [lowered[name] for name in standard if name in lowered]
        if open_stages and len(known) >= max(2, 0.6 * len(open_stages)):
            return then_the_rest(known)
    if "probability" in deals.columns:
        by_probability = open_deals.group_by(pl.col("stage").cast(pl.String)).agg(pl.col("probability").median())
        medians = by_probability.get_column("probability")
        # probabilities order the stages when they tell them apart (a CRM's default 25% on every stage does not);
        # stages of the same probability keep the usual words' order
        if medians.null_count() <= by_probability.height // 4 and medians.n_unique() >= max(
            2, (by_probability.height + 1) // 2
        ):
            ranked = by_probability.with_columns(
                hint=pl.col("stage").map_elements(_stage_hint, return_dtype=pl.Float64)
            ).sort("probability", "hint", "stage", nulls_last=True)
            return then_the_rest(ranked.get_column("stage").to_list())
    if history is not None and history.height:
        moved = _order_from_moves(history, set(open_stages))
        if moved:
            return then_the_rest(moved)
    return then_the_rest([])


def _order_from_moves(history: pl.DataFrame, stages: set[str]) -> list[str]:
    """Stages ordered by the moves deals made: a stage comes before another when more deals were in it first and
    in the other later than the reverse (every pair of a deal's stages, ties in time ignored)."""
    if history.height > 400_000:  # the order is a statistic: a stable part of the deals tells it
        history = history.filter(pl.col("deal_id").hash(seed=0) % (history.height // 200_000) == 0)
    visits = history.select("deal_id", pl.col("stage").cast(pl.String), "entered_at").filter(
        pl.col("stage").is_in(list(stages))
    )
    pairs = (
        visits.join(visits, on="deal_id", suffix="_later")
        .filter(pl.col("entered_at") < pl.col("entered_at_later"), pl.col("stage") != pl.col("stage_later"))
        .group_by("stage", "stage_later")
        .agg(pl.col("deal_id").n_unique().alias("n"))
    )
    counts = {(a, b): n for a, b, n in pairs.iter_rows()}
    if not counts:
        return []
    seen = sorted({a for a, _ in counts} | {b for _, b in counts})
    wins = {s: sum(1 for t in seen if t != s and counts.get((s, t), 0) > counts.get((t, s), 0)) for s in seen}
    return sorted(seen, key=lambda s: (-wins[s], _stage_hint(s), s))


STAGE_HINTS: tuple[tuple[str, ...], ...] = (
    ("prospect", "lead", "new", "appointment", "interes", "kontakt"),
    ("qualif", "engag", "discovery", "contact", "bedarf"),
    ("needs", "analysis", "analys", "demo", "presentation", "value", "dise", "besoin"),
    ("decision", "perception", "proposal", "quote", "propuesta", "angebot", "propos", "devis", "offerte"),
    ("negotiat", "negoci", "négoci", "verhandl", "contract", "contrat", "vertrag", "review", "firma", "commit"),
)
"""Words that place a stage in the usual funnel order when nothing else tells the order."""


KNOWN_STAGES: tuple[tuple[str, ...], ...] = (
    (
        "prospecting",
        "qualification",
        "needs analysis",
        "value proposition",
        "id. decision makers",
        "perception analysis",
        "proposal/price quote",
        "negotiation/review",
    ),  # Salesforce's standard picklist
    (
        "appointmentscheduled",
        "qualifiedtobuy",
        "presentationscheduled",
        "decisionmakerboughtin",
        "contractsent",
    ),  # HubSpot
    (
        "appointment scheduled",
        "qualified to buy",
        "presentation scheduled",
        "decision maker bought in",
        "contract sent",
    ),
    ("lead in", "contact made", "demo scheduled", "proposal made", "negotiations started"),  # Pipedrive
)
"""Standard stage names in their usual order (used when the data does not tell the order)."""


def _stage_hint(stage: str) -> float:
    """Where a stage name usually sits in a funnel: 0 (first) to 5 (unknown)."""
    text = stage.lower().strip()
    for names in KNOWN_STAGES:
        if text in names:
            return 5 * names.index(text) / len(names)
    for rank, words in enumerate(STAGE_HINTS):
        if any(w in text for w in words):
            return float(rank)
    return float(len(STAGE_HINTS))


def _prepare_deals(
    deals: pl.DataFrame,
    tables: Mapping[str, pl.DataFrame],
    settings: Settings,
    currency: str,
    as_of: date,
    durations: pl.DataFrame | None,
    notes: list[pl.DataFrame],
    links: pl.LazyFrame | None,
) -> tuple[pl.DataFrame, tuple[str, ...], list[str]]:
    warnings: list[str] = []
    deals = _convert_currency(deals, tables.get("rates"), currency, as_of, notes)
    if "status" in deals.columns:
        status = pl.coalesce(
            _status_of(deals, "status"), _status_of(deals, "stage") if "stage" in deals.columns else None
        )
    elif "stage" in deals.columns:
        status = _status_of(deals, "stage")
    else:
        status = pl.lit(None, dtype=pl.String)
    deals = deals.with_columns(status=status)
    if "stage" not in deals.columns:
        deals = deals.with_columns(stage=pl.col("status"))
    if "probability" in deals.columns:  # canonical files may write 0-100: most values above 1 mean percent
        present = deals.get_column("probability").drop_nulls()
        if present.len() and float((present > 1).mean() or 0) >= 0.5:  # type: ignore[arg-type]
            deals = deals.with_columns(pl.col("probability") / 100)
        impossible = deals.filter((pl.col("probability") < 0) | (pl.col("probability") > 1)).height
        if impossible:
            notes.append(
                issue(
                    "impossible probabilities",
                    "deals",
                    "",
                    impossible,
                    "below 0% or above 100%",
                    "warning",
                    "left empty: the stage's historical win rate is used for them",
                )
            )
            deals = deals.with_columns(
                probability=pl.when(pl.col("probability").is_between(0, 1)).then(pl.col("probability"))
            )
    if "cost" in deals.columns and "amount" in deals.columns:
        gross = pl.col("amount") - pl.col("cost")
        deals = deals.with_columns(
            gross_profit=pl.coalesce(pl.col("gross_profit"), gross) if "gross_profit" in deals.columns else gross
        )
    for lookup, key in LOOKUPS.items():
        deals = _join_lookup(deals, tables.get(lookup), key, notes, "deals")
    if {"created_date", "close_date"} <= set(deals.columns):
        # a deal closed before it was created (migrated history, orders entered after the win) has no cycle
        days = (pl.col("close_date") - pl.col("created_date")).dt.total_days().cast(pl.Float64)
        deals = deals.with_columns(cycle_days=pl.when((pl.col("status") != "open") & (days >= 0)).then(days))
    if "close_date" in deals.columns:
        kind = (
            pl.col("deal_type").cast(pl.String).str.to_lowercase()
            if "deal_type" in deals.columns
            else pl.lit(None, pl.String)
        )
        first_won = (
            pl.col("close_date").filter(pl.col("status") == "won").min().over("account")
            if "account" in deals.columns
            else pl.lit(None, pl.Date)
        )
        deals = deals.with_columns(
            existing_customer=kind.is_in(list(EXISTING_CUSTOMER_TYPES)).fill_null(False)
            | (first_won < pl.col("close_date")).fill_null(False)
        )

    history = tables.get("stage_history")
    order = _stage_order(deals, history, settings, tables.get("stages"))
    index = {stage: i for i, stage in enumerate(order)}
    n = len(order)
    reached_now = pl.col("stage").cast(pl.String).replace_strict(index, default=0, return_dtype=pl.Int32)
    reached = pl.when(pl.col("status") == "won").then(pl.lit(n, pl.Int32)).otherwise(reached_now)
    in_order = pl.col("stage").cast(pl.String).is_in(list(index))
    if history is not None and history.height:
        joined = _join_per_deal(
            deals,
            history.lazy()
            .with_columns(__i=pl.col("stage").replace_strict(index, default=None, return_dtype=pl.Int32))
            .group_by("deal_id")
            .agg(pl.col("__i").max().alias("__hist_reached"), pl.col("entered_at").max().alias("stage_entered_at")),
        )
        deals = (
            joined
            if joined is not None
            else deals.with_columns(
                __hist_reached=pl.lit(None, pl.Int32), stage_entered_at=pl.lit(None, pl.Datetime("us"))
            )
        )
        reached = (
            pl.when(pl.col("status") == "won")
            .then(pl.lit(n, pl.Int32))
            .otherwise(pl.max_horizontal(pl.col("__hist_reached"), reached_now))
        )
        known = in_order | pl.col("__hist_reached").is_not_null()
        deals = deals.with_columns(reached=reached, __reach_known=known).drop("__hist_reached")
    else:
        deals = deals.with_columns(reached=reached, __reach_known=in_order)
    # historical win rate of deals that reached each stage: the default probability of an open deal there. A lost
    # deal whose furthest stage is unknown (its stage is a closed one, and no stage history names it) counts as lost
    # at the first stage, which makes every later stage look certain: when most lost deals are like that, a rate per
    # stage cannot be measured and every stage takes the overall win rate (said in a warning)
    closed = deals.filter(pl.col("status") != "open")
    lost = closed.filter(pl.col("status") == "lost")
    unknown = float(lost.select((~pl.col("__reach_known")).mean()).item() or 0.0) if lost.height else 0.0
    deals = deals.drop("__reach_known")
    if unknown > 0.5:
        overall = closed.select((pl.col("status") == "won").mean()).item()
        rates = dict.fromkeys(index, overall)
        needs_rate = (pl.col("status") == "open") & (
            pl.col("probability").is_null() if "probability" in deals.columns else pl.lit(True)
        )
        if overall is not None and deals.select(needs_rate.any()).item():
            warnings.append(
                f"Weighted pipeline weighs open deals without a probability by the overall win rate "
                f"({overall:.1%}) at every stage: {unknown:.0%} of lost deals do not say how far they got (their "
                "stage is a closed one and no stage history was loaded), so a win rate per stage cannot be measured. "
                "Add a probability column or the stage history (e.g. Salesforce's Opportunity History) for one."
            )
    else:
        rates = {
            stage: closed.filter(pl.col("reached") >= i).select((pl.col("status") == "won").mean()).item()
            for stage, i in index.items()
        }
    stage_rate = pl.col("stage").cast(pl.String).replace_strict(rates, default=None, return_dtype=pl.Float64)
    prob = pl.coalesce(pl.col("probability"), stage_rate) if "probability" in deals.columns else stage_rate
    deals = deals.with_columns(win_probability=prob)

    stalled_parts: list[pl.Expr] = []
    if durations is not None and "stage_entered_at" in deals.columns:
        medians = dict(durations.group_by("stage").agg(pl.col("days").median()).iter_rows())
        limit = (
            pl.col("stage")
            .cast(pl.String)
            .replace_strict(
                {k: v * settings.stalled_stage_factor for k, v in medians.items() if v is not None},
                default=None,
                return_dtype=pl.Float64,
            )
        )
        in_stage = (pl.lit(as_of) - pl.col("stage_entered_at").dt.date()).dt.total_days()
        stalled_parts.append((in_stage > limit).fill_null(False))
    with_activity = (
        _join_per_deal(
            deals,
            links.filter(pl.col("deal_id").is_not_null())
            .group_by("deal_id")
            .agg(pl.col("activity_date").max().dt.date().alias("last_activity")),
        )
        if links is not None and "deal_id" in links.collect_schema()
        else None
    )
    if with_activity is not None:
        deals = with_activity
        idle = (
            pl.lit(as_of)
            - pl.coalesce(
                pl.col("last_activity"),
                pl.col("created_date") if "created_date" in deals.columns else pl.col("last_activity"),
            )
        ).dt.total_days()
        stalled_parts.append((idle > settings.stalled_idle_days).fill_null(False))
    if stalled_parts:
        deals = deals.with_columns(stalled=pl.any_horizontal(stalled_parts))
    if "close_date" in deals.columns:
        deals = deals.with_columns(overdue=(pl.col("status") == "open") & (pl.col("close_date") < as_of))
        open_deals, undated = deals.select(
            (pl.col("status") == "open").sum().alias("open"),
            ((pl.col("status") == "open") & pl.col("close_date").is_null()).sum().alias("undated"),
        ).row(0)
        if undated and undated < open_deals:
            warnings.append(
                f"{undated:,} of {open_deals:,} open deals have no expected close date: the open pipeline, weighted "
                "pipeline and coverage of a period leave them out (no period can place them; all time counts them), "
                "and they cannot be past due."
            )
    if history is None or not history.height:
        warnings.append(
            "Stage conversion is inferred from each deal's furthest stage (no stage history was loaded); "
            "lost deals count as lost at their last open stage when known, else at the first stage."
        )
    deals = deals.with_columns(pl.col("status").cast(STATUS_ENUM))
    return deals, order, warnings


def _join_per_deal(deals: pl.DataFrame, aggregated: pl.LazyFrame) -> pl.DataFrame | None:
    """Per-deal aggregates of a big table (stage history, activities; one row per deal_id) joined onto the deals,
    in their order; None when the table names no deal.

    Run by the streaming engine: grouping 10M activities by deal id takes half the time of the eager group-by, and
    a table scanned from disk is read in pieces rather than held whole."""
    per_deal = aggregated.filter(pl.col("deal_id").is_not_null()).collect(engine="streaming")
    if not per_deal.height:
        return None
    found = deals.select("deal_id").join(per_deal, on="deal_id", how="left", maintain_order="left").drop("deal_id")
    return deals.drop(found.columns, strict=False).hstack(found)  # the deals' own columns are not copied


def _customers(tables: Mapping[str, pl.DataFrame]) -> pl.DataFrame | None:
    """Each account's first won deal or first subscription: account, first_date and that row's dims."""
    parts: list[pl.DataFrame] = []
    deals = tables.get("deals")
    if deals is not None and {"account", "close_date"} <= set(deals.columns):
        dims = [d for d in DIMENSIONS if d in deals.columns]
        won = (pl.col("status") == "won") & pl.col("account").is_not_null() & pl.col("close_date").is_not_null()
        # the columns kept are chosen before the rows: a filter of every column of 10M deals is not made
        parts.append(
            deals.lazy().filter(won).select("account", pl.col("close_date").alias("first_date"), *dims).collect()
        )
    subs = tables.get("subscriptions")
    if subs is not None and subs.height:
        dims = [d for d in DIMENSIONS if d in subs.columns]
        parts.append(
            subs.filter(pl.col("account").is_not_null()).select(
                pl.col("account").cast(pl.String),
                pl.col("start_date").alias("first_date"),
                *dims,
            )
        )
    if not parts:
        return None
    return (
        pl.concat(parts, how="diagonal_relaxed")
        .filter(pl.col("first_date").is_not_null())
        .sort("first_date", maintain_order=True)  # a date sort: ten times cheaper than one by date and name
        .unique("account", keep="first", maintain_order=True)
        .with_columns(pl.col("first_date").set_sorted())  # in date order: the engine reads periods as slices
    )


def _stage_visits(durations: pl.DataFrame, deals: pl.DataFrame | None) -> pl.DataFrame:
    visits = durations.with_columns(exited_day=pl.col("exited_at").dt.date())
    if deals is not None:
        dims = [d for d in DIMENSIONS if d in deals.columns and d not in visits.columns]
        visits = visits.join(deals.select("deal_id", *dims).unique("deal_id"), on="deal_id", how="left")
    return visits


def stage_durations(history: pl.DataFrame, *, ordered: bool = False) -> pl.DataFrame:
    """Completed stage visits: deal_id, stage, entered_at, exited_at, days (time in stage).

    ``ordered``: the history is already sorted by deal and time."""
    # one sort instead of a window per deal (a window over 4M rows takes ten times as long)
    if not ordered:
        history = history.sort("deal_id", "entered_at", maintain_order=True)
    same_deal = pl.col("deal_id") == pl.col("deal_id").shift(-1)
    return (
        history.with_columns(exited_at=pl.when(same_deal).then(pl.col("entered_at").shift(-1)))
        .filter(pl.col("exited_at").is_not_null())
        .with_columns(days=(pl.col("exited_at") - pl.col("entered_at")).dt.total_seconds() / 86400.0)
    )


def in_date_order(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """Rows sorted by a date column, and marked so: the engine then reads each period as a slice of rows.

    Exports usually come in date order, and then this is one check of the column; other files are sorted once."""
    dates = frame.get_column(column)
    if not dates.is_sorted():
        frame = frame.sort(column, nulls_last=False, maintain_order=True)
    return frame.with_columns(pl.col(column).set_sorted())


def _prepare_activities(activities: pl.DataFrame, tables: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
    kind = pl.col("type").cast(pl.String).str.to_lowercase().str.strip_chars().str.replace(r"s$", "")
    kind = kind.replace(
        {"phone": "call", "phone call": "call", "e-mail": "email", "mail": "email", "event": "meeting", "todo": "task"}
    )
    # a Salesforce task subject such as "Email: Re: pricing" or "Call - follow up" names its type
    lead = kind.str.extract(r"^(call|phone|e-?mail|meeting|event|task|demo|visit)\b", 1).replace(
        {"phone": "call", "e-mail": "email", "event": "meeting", "demo": "meeting", "visit": "meeting"}
    )
    rule = pl.when(kind.is_in(list(ACTIVITY_TYPES))).then(kind).otherwise(pl.coalesce(lead, pl.lit("other")))
    activity_type = (
        _by_unique(activities, "type", rule, pl.String()).fill_null("other")
        if "type" in activities.columns
        else pl.lit("other")
    )
    activities = activities.with_columns(type=activity_type, day=pl.col("activity_date").dt.date())
    return _join_lookup(in_date_order(activities, "day"), tables.get("reps"), "owner", None, "activities")


def _prepare_leads(leads: pl.DataFrame, tables: Mapping[str, pl.DataFrame], links: pl.LazyFrame | None) -> pl.DataFrame:
    if links is not None and "lead_id" in links.collect_schema():
        first = (
            links.filter(pl.col("lead_id").is_not_null())
            .group_by("lead_id")
            .agg(pl.col("activity_date").min().alias("__first_activity"))
            .collect(engine="streaming")
        )
        found = leads.select("lead_id").join(first, on="lead_id", how="left", maintain_order="left").drop("lead_id")
        leads = leads.hstack(found)
        own = pl.col("first_response_at") if "first_response_at" in leads.columns else pl.lit(None, pl.Datetime("us"))
        leads = leads.with_columns(first_response_at=pl.coalesce(own, pl.col("__first_activity"))).drop(
            "__first_activity"
        )
    if "first_response_at" in leads.columns:
        leads = leads.with_columns(
            response_hours=(pl.col("first_response_at") - pl.col("created_at")).dt.total_seconds() / 3600.0
        )
    converted = []
    if "converted" in leads.columns:
        converted.append(pl.col("converted"))
    if "converted_date" in leads.columns:
        converted.append(pl.col("converted_date").is_not_null())
    if "converted_deal_id" in leads.columns:
        converted.append(pl.col("converted_deal_id").is_not_null())
    if converted:
        leads = leads.with_columns(converted=pl.any_horizontal(converted).fill_null(False))
    leads = leads.with_columns(created_day=pl.col("created_at").dt.date())
    return _join_lookup(in_date_order(leads, "created_day"), tables.get("reps"), "owner")


def parse_period(text: str | None, fiscal_year_start: int = 1) -> periods.Period | None:
    """A targets or spend period: a label (``2026-11``, ``2026-Q4``, ``FY2027``) or a date (its month)."""
    try:
        if text and len(text) >= 10 and text[4] == "-" and text[7] == "-":
            return periods.make(date.fromisoformat(text[:10]), "month", fiscal_year_start)
        return periods.parse(text or "", fiscal_year_start)
    except ValueError:
        return None


def _period_bounds(frame: pl.DataFrame, settings: Settings, notes: list[pl.DataFrame], table: str) -> pl.DataFrame:
    """Parse the ``period`` column (a label such as 2026-11 / 2026-Q4, or a date) into [start, end); rows whose
    period cannot be read are left out and reported."""
    fy = settings.fiscal_year_start
    labels = frame.get_column("period").cast(pl.String).unique().to_list()
    found = {text: parse_period(text, fy) for text in labels}
    bad = [t for t, p in found.items() if p is None]
    if bad:
        rows = frame.filter(pl.col("period").cast(pl.String).is_in(bad) | pl.col("period").is_null()).height
        notes.append(
            issue(
                "unreadable periods",
                table,
                "",
                rows,
                ", ".join(repr(b) for b in bad[:5]),
                "error" if rows == frame.height else "warning",
                "left out: write periods as 2026-11, 2026-Q4, FY2027-Q1, 2026 or a date",
            )
        )
    starts = {t: p.start for t, p in found.items() if p is not None}
    ends = {t: p.end for t, p in found.items() if p is not None}
    text = pl.col("period").cast(pl.String)
    return frame.with_columns(
        period_start=text.replace_strict(starts, default=None, return_dtype=pl.Date),
        period_end=text.replace_strict(ends, default=None, return_dtype=pl.Date),
    ).filter(pl.col("period_start").is_not_null())


LOST_DATE_SLACK = timedelta(days=31)
"""How far past the latest created, won or activity date a lost deal's close date still counts for the as-of date."""


def _latest_date(tables: Mapping[str, pl.DataFrame]) -> tuple[date, str]:
    """The latest date in the data and what it is (the as-of date when none is given)."""
    candidates: list[tuple[date, str]] = []

    today = date.today()
    later = 0

    def add(name: str, column: str, what: str, where: pl.Expr | None = None) -> None:
        nonlocal later
        frame = tables.get(name)
        if frame is None or column not in frame.columns:
            return
        values = (frame.filter(where) if where is not None else frame).get_column(column)
        day = values.cast(pl.Date) if values.dtype != pl.Date else values
        later += int((day > today).sum())  # an export describes the past: later dates are typos or plans
        value = day.filter(day <= today).max()
        if value is not None:
            candidates.append((to_date(value), what))  # type: ignore[arg-type]

    add("deals", "created_date", "the latest created date of a deal")
    deals = tables.get("deals")
    has_close = deals is not None and {"status", "close_date"} <= set(deals.columns)
    if has_close:
        add("deals", "close_date", "the latest close date of a won deal", pl.col("status") == "won")
    add("activities", "activity_date", "the latest activity")
    add("leads", "created_at", "the latest lead")
    stale = 0
    if has_close and deals is not None:
        # a lost deal's close date is often the date once planned, never updated (a deal lost in spring still says
        # December): lost dates count up to a month past the latest other date, and alone when there is none
        lost = deals.filter(pl.col("status") == "lost").get_column("close_date").cast(pl.Date).drop_nulls()
        limit = min(max(c[0] for c in candidates) + LOST_DATE_SLACK, today) if candidates else today
        stale = int(((lost > limit) & (lost <= today)).sum())
        later += int((lost > today).sum())
        value = lost.filter(lost <= limit).max()
        if value is not None:
            candidates.append((to_date(value), "the latest close date of a lost deal"))  # type: ignore[arg-type]
    if not candidates:
        return date.today(), "today's date: no date in the data could be read"
    latest = max(candidates, key=lambda c: c[0])
    ignored = "".join(
        [
            f" ({stale:,} lost deal(s) dated over a month later, planned dates never updated, ignored)"
            if stale
            else "",
            f" ({later:,} later date(s), after today, ignored)" if later else "",
        ]
    )
    return latest[0], f"{latest[1]} in the data{ignored}"


def plausible_window() -> tuple[date, date]:
    """Dates a business record can hold: ``[low, high)`` (see :mod:`kpi_core.values`)."""
    from kpi_core.values import PLAUSIBLE_FROM, PLAUSIBLE_YEARS_AHEAD

    return PLAUSIBLE_FROM, date(date.today().year + PLAUSIBLE_YEARS_AHEAD + 1, 1, 1)


def _plausible_dates(name: str, frame: pl.DataFrame, notes: list[pl.DataFrame]) -> pl.DataFrame:
    """Dates outside the plausible window left empty (tables that did not come through the importer, e.g. Parquet
    written by another tool), so no placeholder such as 9999-12-31 reaches period arithmetic."""
    low, high = plausible_window()
    temporal = [c for c, t in frame.schema.items() if t in (pl.Date(),) or isinstance(t, pl.Datetime)]
    if not temporal or not frame.height:
        return frame
    odd = {c: (pl.col(c).cast(pl.Date) < low) | (pl.col(c).cast(pl.Date) >= high) for c in temporal}
    counts = frame.select([e.sum().alias(c) for c, e in odd.items()]).row(0, named=True)
    bad = [c for c in temporal if counts[c]]
    if not bad:
        return frame
    for column in bad:
        example = frame.filter(odd[column]).get_column(column).head(1).to_list()
        notes.append(
            issue(
                f"implausible dates in {column}",
                name,
                "",
                int(counts[column]),
                str(example[0]) if example else "",
                "warning",
                f"left empty: outside {low.year} to {high.year - 1}, a placeholder rather than a real date",
            )
        )
    return frame.with_columns([pl.when(~odd[c]).then(pl.col(c)).alias(c) for c in bad])


SF_ID = re.compile(r"^[A-Za-z0-9]{18}$")


def _id_key(value: str) -> str:
    """Ids as one record: an 18-character Salesforce id and its 15-character form match."""
    value = value.strip()
    return value[:15] if SF_ID.match(value) else value


def _swap_ids(
    frame: pl.DataFrame, column: str, lookup: pl.DataFrame, keys: Sequence[str], names: str
) -> tuple[pl.DataFrame, int, int, list[str]] | None:
    """Replace ids in ``column`` by names from ``lookup`` when its values are mostly ids of one of ``keys``:
    the frame, how many values matched, how many distinct values there were, and examples left unmatched."""
    values = [v for v in frame.get_column(column).cast(pl.String).drop_nulls().unique().to_list() if v.strip()]
    if not values:
        return None
    known_names = set(lookup.get_column(names).cast(pl.String).drop_nulls().to_list())
    best: dict[str, str] = {}
    for key in keys:
        pairs = lookup.select(pl.col(key).cast(pl.String), pl.col(names).cast(pl.String)).drop_nulls().rows()
        table = {_id_key(k): v for k, v in pairs}
        found = {v: table[_id_key(v)] for v in values if _id_key(v) in table}
        if len(found) > len(best):
            best = found
    already = sum(1 for v in values if v in known_names)
    if len(best) < max(1, len(values) // 2) or len(best) <= already:
        return None
    unmatched = [v for v in values if v not in best]
    swapped = frame.with_columns(pl.col(column).cast(pl.String).replace(best).alias(column))
    return swapped, len(best), len(values), unmatched[:5]


def _names_for_ids(work: dict[str, pl.DataFrame], notes: list[pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """Owner ids (``OwnerId``, ``owner_id``, ``Owner.External_Id__c``) become names through a users file, matched
    on whichever of its id columns holds them, and account ids through an accounts file keyed by ``Id``; the
    users then also serve as the reps lookup (team, manager, region)."""
    users = work.get("users")
    if users is not None and users.height:
        keys = [c for c in ("user_id", "external_id", "email", "alias") if c in users.columns]
        if "manager" in users.columns:
            done = _swap_ids(users, "manager", users, keys, "owner")
            users = done[0] if done else users
        for name in ("deals", "activities", "leads", "targets", "reps"):
            frame = work.get(name)
            if frame is None or "owner" not in frame.columns:
                continue
            done = _swap_ids(frame, "owner", users, keys, "owner")
            if done is None:
                continue
            work[name], matched, total, unmatched = done
            notes.append(
                issue(
                    "owner ids replaced by names from the users file",
                    name,
                    "",
                    matched,
                    f"{matched:,} of {total:,} owners matched"
                    + (f"; not found: {', '.join(unmatched)}" if unmatched else ""),
                    "info" if not unmatched else "warning",
                    "owners are shown by name" + ("; the ids not found stay as they are" if unmatched else ""),
                )
            )
        dims = [c for c in ("owner", "team", "manager", "region") if c in users.columns]
        if len(dims) > 1:
            from_users = users.select(dims).filter(pl.col("owner").is_not_null())
            reps = work.get("reps")
            work["reps"] = (
                from_users
                if reps is None
                else pl.concat([reps, from_users], how="diagonal_relaxed").unique(
                    "owner", keep="first", maintain_order=True
                )
            )
    stages = work.get("stages")
    deals = work.get("deals")
    if stages is not None and deals is not None and "stage" in deals.columns:
        done = _swap_ids(deals, "stage", stages, ["stage_id"], "stage")
        if done is not None:
            work["deals"], matched, total, unmatched = done
            notes.append(
                issue(
                    "stage ids replaced by names from the stages file",
                    "deals",
                    "",
                    matched,
                    f"{matched:,} of {total:,} stages matched"
                    + (f"; not found: {', '.join(unmatched)}" if unmatched else ""),
                    "info" if not unmatched else "warning",
                    "stages are shown by name, in the stages file's order",
                )
            )
    accounts = work.get("accounts")
    if accounts is not None and "account_id" in accounts.columns:
        for name in ("deals", "activities", "subscriptions"):
            frame = work.get(name)
            if frame is None or "account" not in frame.columns:
                continue
            done = _swap_ids(frame, "account", accounts, ["account_id"], "account")
            if done is None:
                continue
            work[name], matched, total, unmatched = done
            notes.append(
                issue(
                    "account ids replaced by names from the accounts file",
                    name,
                    "",
                    matched,
                    f"{matched:,} of {total:,} accounts matched"
                    + (f"; not found: {', '.join(unmatched)}" if unmatched else ""),
                    "info" if not unmatched else "warning",
                    "accounts are shown by name and join the accounts lookup",
                )
            )
    return work


def _reporting_currency(work: dict[str, pl.DataFrame], settings: Settings, notes: list[pl.DataFrame]) -> str:
    """The currency money KPIs are reported in: the setting, else the deals' own when they have one, else USD.

    Deals without a currency beside deals with one take the reporting currency (they never drop out of money
    KPIs); a dataset whose amounts name no currency at all is said to be shown in it."""
    deals = work.get("deals")
    found: list[str] = []
    if deals is not None and "currency" in deals.columns:
        found = sorted(deals.get_column("currency").cast(pl.String).drop_nulls().unique().to_list())
    currency = settings.currency or (found[0] if len(found) == 1 else "USD")
    if deals is None or "amount" not in deals.columns or not deals.height:
        return currency
    missing = deals.height if "currency" not in deals.columns else deals.get_column("currency").null_count()
    if found and missing:
        work["deals"] = deals.with_columns(pl.col("currency").cast(pl.String).fill_null(currency))
        notes.append(
            issue(
                "deals without a currency",
                "deals",
                "",
                missing,
                f"counted in {currency}",
                "warning",
                f"their amounts are taken to be in {currency}, the reporting currency (change it in the settings)",
            )
        )
    elif not found and settings.currency is None:
        notes.append(
            issue(
                "amounts name no currency",
                "deals",
                "",
                deals.height,
                f"shown as {currency}",
                "info",
                f"the files do not say which currency the amounts are in: they are shown as {currency}; "
                "set the reporting currency if they are in another",
            )
        )
    return currency


def _encode(tables: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """Encode every dimension column as one ``pl.Enum`` shared by all tables (joins stay possible)."""
    out = dict(tables)
    for dim in DIMENSIONS:
        holders = [n for n, f in out.items() if dim in f.columns]
        if not holders:
            continue
        values: set[str] = set()
        for name in holders:
            column = out[name].get_column(dim)
            if isinstance(column.dtype, pl.Enum):  # already encoded: its categories, without a scan of the rows
                values.update(column.dtype.categories.to_list())
            else:
                values.update(column.unique().cast(pl.String).drop_nulls().to_list())
        enum = pl.Enum(sorted(values))
        for name in holders:
            current = out[name].schema[dim]
            if current != enum:
                source = pl.col(dim) if current == pl.String() else pl.col(dim).cast(pl.String)
                out[name] = out[name].with_columns(source.cast(enum))
    return out


def build(
    tables: dict[str, pl.DataFrame],
    *,
    as_of: date | None,
    settings: Settings,
    as_of_source: str | None = None,
    links: pl.LazyFrame | None = None,
) -> Dataset:
    """Enrich and encode canonical tables into a :class:`Dataset` (``tables`` is consumed).

    ``links`` are the activities' deal and lead ids with their dates, when the activities table was read without
    them (a big dataset keeps only what the KPIs read): the last activity of each deal and the first response to
    each lead are aggregated from it."""
    work = dict(tables)
    tables.clear()
    if "leads" in work and "source" in work["leads"].columns and "lead_source" not in work["leads"].columns:
        work["leads"] = work["leads"].rename({"source": "lead_source"})
    warnings: list[str] = []
    notes: list[pl.DataFrame] = [EMPTY_QUALITY]
    work = {name: _plausible_dates(name, frame, notes) for name, frame in work.items()}
    if links is not None:
        low, high = plausible_window()
        day = pl.col("activity_date").cast(pl.Date)
        links = links.with_columns(pl.when(day.is_between(low, high, closed="left")).then(pl.col("activity_date")))
    elif "activities" in work:
        links = work["activities"].lazy()
    work = _names_for_ids(work, notes)
    currency = _reporting_currency(work, settings, notes)
    # encode dimensions (and lookup keys) first, so lookups join on integer codes and add small columns
    work = _encode(work)
    if "leads" in work:
        work["leads"] = _prepare_leads(work["leads"], work, links)
    if "deals" in work and "status" not in work["deals"].columns:
        work["deals"] = work["deals"].with_columns(
            status=_status_of(work["deals"], "stage") if "stage" in work["deals"].columns else pl.lit(None, pl.String)
        )
    durations = None
    if "stage_history" in work:
        # kept in deal and time order: each deal's visits are then one run of rows
        work["stage_history"] = (
            work["stage_history"]
            .filter(pl.col("entered_at").is_not_null())
            .sort("deal_id", "entered_at", maintain_order=True)
        )
        durations = stage_durations(work["stage_history"], ordered=True)
    resolved, as_of_source = (as_of, as_of_source or "given") if as_of is not None else _latest_date(work)
    order: tuple[str, ...] = ()
    if "deals" in work:
        work["deals"], order, deal_warnings = _prepare_deals(
            work["deals"], work, settings, currency, resolved, durations, notes, links
        )
        warnings += deal_warnings
    del links  # the activities' ids are not kept beyond this point when they were read apart
    if "activities" in work:
        work["activities"] = _prepare_activities(work["activities"], work)
    if "subscriptions" in work:
        subs = _join_lookup(work["subscriptions"], work.get("accounts"), "account")
        # churn and retention group subscriptions per account: dictionary codes group 3x faster than strings
        work["subscriptions"] = subs.with_columns(pl.col("account").cast(pl.String).cast(pl.Categorical))
    if "targets" in work:
        targets = work["targets"]
        if "kpi" not in targets.columns:
            targets = targets.with_columns(kpi=pl.lit("won_revenue"))
        targets = _join_lookup(targets.with_columns(pl.col("kpi").fill_null("won_revenue")), work.get("reps"), "owner")
        work["targets"] = _period_bounds(targets, settings, notes, "targets")
    if "spend" in work:
        spend = _period_bounds(work["spend"], settings, notes, "spend")
        work["spend"] = spend.with_columns(
            [pl.col(c).fill_null(0.0) for c in ("sales_cost", "marketing_cost") if c in spend.columns]
        )
    if durations is not None:
        work["stage_visits"] = _stage_visits(durations, work.get("deals"))
        del durations
        # a few stage names over millions of visits: held as codes (16 bytes a row less in each table)
        for name in ("stage_history", "stage_visits"):
            work[name] = work[name].with_columns(pl.col("stage").cast(pl.String).cast(pl.Categorical))
    customers = _customers(work)
    if customers is not None:
        work["customers"] = customers
    encoded = _encode(work)
    quality = pl.concat(notes, how="vertical_relaxed")
    return Dataset(
        tables=encoded,
        as_of=resolved,
        settings=settings,
        stage_order=order,
        warnings=tuple(warnings),
        quality=quality,
        currency=currency,
        as_of_source=as_of_source,
    )


def _convert_currency(
    deals: pl.DataFrame, rates: pl.DataFrame | None, currency: str, as_of: date, notes: list[pl.DataFrame]
) -> pl.DataFrame:
    """Amounts in the reporting currency, at the rate valid on each deal's close (else created) date."""
    if rates is None or "currency" not in deals.columns or "amount" not in deals.columns:
        return deals
    table = (
        rates.select(
            pl.col("currency").cast(pl.String).str.to_uppercase().str.strip_chars(),
            pl.col("rate").cast(pl.Float64),
            (pl.col("valid_from") if "valid_from" in rates.columns else pl.lit(None, pl.Date))
            .fill_null(date(1900, 1, 1))
            .alias("__from"),
        )
        .filter(pl.col("rate").is_not_null())
        .sort("__from")
    )
    anchor = [c for c in ("close_date", "created_date") if c in deals.columns]
    when = pl.coalesce([pl.col(c) for c in anchor] + [pl.lit(as_of)]) if anchor else pl.lit(as_of)
    keyed = deals.with_row_index("__row").with_columns(
        __when=when, __cur=pl.col("currency").cast(pl.String).str.to_uppercase().str.strip_chars()
    )
    joined = keyed.sort("__when").join_asof(
        table,
        left_on="__when",
        right_on="__from",
        by_left="__cur",
        by_right="currency",
        strategy="backward",
        check_sortedness=False,
    )
    rate = pl.when(pl.col("__cur") == currency).then(1.0).otherwise(pl.col("rate"))
    missing = joined.filter(rate.is_null() & pl.col("__cur").is_not_null())
    if missing.height:
        notes.append(
            issue(
                "no exchange rate",
                "deals",
                "",
                missing.height,
                ", ".join(sorted(set(missing.get_column("__cur").to_list()))[:5]),
                "warning",
                f"amount left empty: not converted to {currency}",
            )
        )
    money = [c for c in ("amount", "gross_profit", "cost") if c in deals.columns]
    keep = [] if "amount_original" in deals.columns else [pl.col("amount").alias("amount_original")]
    if "currency_original" not in deals.columns:
        keep.append(pl.col("currency").alias("currency_original"))
    converted = joined.with_columns(
        keep + [(pl.col(c) * rate).alias(c) for c in money] + [pl.lit(currency).alias("currency")]
    )
    return converted.sort("__row").drop("__row", "__when", "__cur", "rate", "__from")
