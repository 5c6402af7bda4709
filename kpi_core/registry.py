"""The KPI registry: every KPI of the catalog as a frozen spec, with its Polars expression.

One expression serves the total and every segment: the engine evaluates it inside
``group_by(period, *dims).agg(...)``. Scopes say which rows an expression sees and which date places
them in a period; ``derived`` KPIs are expressions over other KPIs' values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

import polars as pl

from kpi_core.prepare import DERIVED_FROM

Indicator = Literal["leading", "lagging"]
Kind = Literal["input", "output"]
Unit = Literal["currency", "count", "percent", "days", "hours", "ratio", "currency_per_day"]
Direction = Literal["up", "down", "neutral"]
Scope = Literal[
    "closed",
    "created",
    "open",
    "pipeline",
    "stale",
    "activities",
    "leads",
    "spend",
    "customers",
    "subscriptions",
    "targets",
    "stages",
    "stage_visits",
    "derived",
    "growth",
    "snapshots",
]


@dataclass(frozen=True)
class ScopeSpec:
    """Which table a scope reads, the date that places a row in a period, and the rows it keeps."""

    table: str
    anchor: str | None
    anchor_label: str
    needs: str


SCOPES: Mapping[str, ScopeSpec] = MappingProxyType(
    {
        "closed": ScopeSpec(
            "deals", "close_date", "close date", "a deals export with stage or status, amount and close date"
        ),
        "created": ScopeSpec("deals", "created_date", "created date", "a deals export with created date and amount"),
        "open": ScopeSpec(
            "deals",
            "close_date",
            "close date (open deals as of the as-of date)",
            "a deals export with open deals, amount and close date",
        ),
        "pipeline": ScopeSpec(
            "deals",
            None,
            "as of the as-of date (every open deal, whatever its close date)",
            "a deals export with open deals",
        ),
        "stale": ScopeSpec(
            "deals", "close_date", "close date (open deals due before the period)", "a deals export with open deals"
        ),
        "activities": ScopeSpec(
            "activities", "day", "activity date", "an activities export (calls, emails, meetings) with owner and date"
        ),
        "leads": ScopeSpec(
            "leads",
            "created_day",
            "lead created time",
            "a leads export with created time and first response or conversion",
        ),
        "spend": ScopeSpec(
            "spend", "period_start", "spend period", "a spend table with sales and marketing cost per period"
        ),
        "customers": ScopeSpec(
            "customers", "first_date", "first won deal or subscription", "won deals with account, or subscriptions"
        ),
        "subscriptions": ScopeSpec(
            "subscriptions",
            None,
            "subscription start/end dates",
            "a subscriptions table (account, start date, end date, MRR)",
        ),
        "targets": ScopeSpec(
            "targets", None, "target period", "a targets table (period, value, optional owner/region/product/team)"
        ),
        "stages": ScopeSpec(
            "deals", "created_date", "created date", "a deals export with stages (and ideally stage history)"
        ),
        "stage_visits": ScopeSpec(
            "stage_visits",
            "exited_day",
            "date the stage was left",
            "stage history (Salesforce OpportunityHistory or HubSpot 'Date entered' columns)",
        ),
        "derived": ScopeSpec("", None, "as its inputs", ""),
        "growth": ScopeSpec(
            "deals", "close_date", "close date", "a deals export with won deals, amount and close date"
        ),
        "snapshots": ScopeSpec("snapshots", None, "snapshot dates", "weekly snapshot history (saved weekly exports)"),
    }
)


def ratio(numerator: pl.Expr, denominator: pl.Expr, *, positive: bool = False) -> pl.Expr:
    """``numerator / denominator``, null when the denominator is zero or empty (never inf or NaN)."""
    ok = denominator > 0 if positive else denominator != 0
    return pl.when(ok).then(numerator / denominator).otherwise(None)


WON = pl.col("status") == "won"
LOST = pl.col("status") == "lost"
CLOSED = WON | LOST
OPEN = pl.col("status") == "open"


@dataclass(frozen=True, eq=False)
class KPI:
    """A KPI definition. ``expr`` is an aggregation over the scope's rows in one period and segment
    (or, for ``derived``, an expression over other KPIs' values, referenced by id). ``rows`` says
    which rows of the scope count towards it (for drill-down)."""

    id: str
    label: str
    meaning: str
    formula: str
    category: str
    indicator: Indicator
    kind: Kind
    unit: Unit
    direction: Direction
    scope: Scope
    expr: pl.Expr
    rows: pl.Expr | None = None
    additive: bool = False
    per_stage: bool = False
    internal: bool = False
    dated: bool = False
    """True when the KPI needs open deals placed in periods by their expected close date (pipeline coverage)."""
    sample: pl.Expr | None = None
    """How many records the value rests on (an aggregation over the same rows as ``expr``)."""
    sample_of: tuple[str, ...] = ()
    """For a KPI built from others: the KPIs whose records it rests on (the fewest of theirs count)."""
    min_sample: int = 0
    """The fewest records for a change or a comparison of the value to be a finding (0: a census, always one)."""
    sample_words: str = ""
    """What the records are, in the plural ("closed deals")."""

    @property
    def time_anchor(self) -> str:
        return SCOPES[self.scope].anchor_label

    @property
    def table(self) -> str:
        return SCOPES[self.scope].table

    def inputs(self) -> list[str]:
        """Columns (or, for derived KPIs, KPI ids) the expression reads."""
        names = set(self.expr.meta.root_names())
        if self.rows is not None:
            names.update(self.rows.meta.root_names())
        return sorted(names)

    def required_columns(self) -> list[str]:
        """Canonical columns the KPI needs, derived from its expression and scope."""
        if self.scope in ("derived", "growth", "snapshots"):
            return []
        cols: set[str] = set()
        for name in self.inputs():
            cols.update(DERIVED_FROM.get(name, (name,)))
        anchor = SCOPES[self.scope].anchor
        if anchor:
            cols.update(DERIVED_FROM.get(anchor, (anchor,)))
        return sorted(cols)

    @property
    def needs(self) -> str:
        return SCOPES[self.scope].needs


AMOUNT = pl.col("amount")
N_WON = WON.sum()
N_CLOSED = CLOSED.sum()
N_WON_AMOUNT = (WON & AMOUNT.is_not_null()).sum()
N_CYCLES = (WON & pl.col("cycle_days").is_not_null()).sum()
N_START = (pl.col("mrr_start") > 0).sum()
# won deals whose amounts are all missing have an unknown revenue, not a revenue of 0 (no won deal: 0)
won_amount = pl.when(WON.any() & (AMOUNT.filter(WON).count() == 0)).then(None).otherwise(AMOUNT.filter(WON).sum())
won_count = WON.sum()

REGISTRY: tuple[KPI, ...] = (
    # Revenue and growth (lagging, output)
    KPI(
        "won_revenue",
        "Total revenue (won)",
        "Revenue from deals won in the period: the result every other KPI tries to predict. When it falls short, look at pipeline coverage and win rate before blaming the month.",
        "sum(amount) of won deals, close date in P",
        "revenue",
        "lagging",
        "output",
        "currency",
        "up",
        "closed",
        won_amount,
        rows=WON,
        additive=True,
        sample=N_WON,
        min_sample=10,
        sample_words="won deals",
    ),
    KPI(
        "revenue_growth",
        "Revenue growth",
        "Change in won revenue against the previous period, period-to-date aligned while the period runs. A drop that is not seasonal calls for a look at pipeline created a cycle length ago.",
        "(won_revenue(P) - won_revenue(prev)) / won_revenue(prev), period-to-date aligned",
        "revenue",
        "lagging",
        "output",
        "percent",
        "up",
        "growth",
        pl.col("won_revenue"),
        sample_of=("won_revenue",),
        min_sample=10,
        sample_words="won deals",
    ),
    KPI(
        "deals_won",
        "Deals won",
        "How many deals closed as won. Read it with average deal size: the same revenue from fewer, bigger deals is a riskier business.",
        "count of won deals, close date in P",
        "revenue",
        "lagging",
        "output",
        "count",
        "up",
        "closed",
        won_count,
        rows=WON,
        additive=True,
        sample=N_WON,
        min_sample=10,
        sample_words="won deals",
    ),
    KPI(
        "avg_deal_size",
        "Average deal size",
        "Won revenue per won deal. Rising size with steady win rate means better targeting; falling size can mean discounting.",
        "won_revenue / deals_won",
        "revenue",
        "lagging",
        "output",
        "currency",
        "up",
        "closed",
        ratio(won_amount, won_count.cast(pl.Float64)),
        rows=WON,
        sample=N_WON_AMOUNT,
        min_sample=10,
        sample_words="won deals with an amount",
    ),
    KPI(
        "quota_attainment",
        "Quota attainment",
        "Won revenue as a share of target. Below pace mid-period is the cue to check coverage of what remains.",
        "won_revenue / target(won_revenue, P, segment)",
        "revenue",
        "lagging",
        "output",
        "percent",
        "up",
        "derived",
        ratio(pl.col("won_revenue"), pl.col("_target")),
        sample_of=("won_revenue",),
        min_sample=10,
        sample_words="won deals",
    ),
    KPI(
        "profit_margin",
        "Average profit margin",
        "Gross profit as a share of won revenue. Falling margin with rising revenue usually means discounting or a product mix shift.",
        "sum(gross_profit) / sum(amount), won deals closed in P",
        "revenue",
        "lagging",
        "output",
        "percent",
        "up",
        "closed",
        ratio(
            pl.col("gross_profit").filter(WON & pl.col("gross_profit").is_not_null()).sum(),
            AMOUNT.filter(WON & pl.col("gross_profit").is_not_null()).sum(),
        ),
        rows=WON,
        sample=(WON & pl.col("gross_profit").is_not_null()).sum(),
        min_sample=10,
        sample_words="won deals with a gross profit",
    ),
    KPI(
        "mrr",
        "MRR",
        "Monthly recurring revenue of subscriptions active at the end of the period (or at the as-of date). The base that retention KPIs grow or erode.",
        "sum(mrr) of subscriptions active at the end of P (or at as-of)",
        "revenue",
        "lagging",
        "output",
        "currency",
        "up",
        "subscriptions",
        pl.col("mrr_end").sum(),
        additive=True,
        sample=(pl.col("mrr_end") > 0).sum(),
        sample_words="paying customers",
    ),
    KPI(
        "arr",
        "ARR (run rate)",
        "MRR times twelve: the annualised recurring revenue run rate, the number boards and investors compare across companies.",
        "mrr * 12",
        "revenue",
        "lagging",
        "output",
        "currency",
        "up",
        "derived",
        pl.col("mrr") * 12,
        sample_of=("mrr",),
        sample_words="paying customers",
    ),
    # Sales activity (leading, input)
    KPI(
        "activities",
        "Sales activities",
        "All logged calls, emails, meetings and tasks. Activity leads pipeline by a few weeks; a drop now is a pipeline gap next month.",
        "count of activities dated in P",
        "activity",
        "leading",
        "input",
        "count",
        "up",
        "activities",
        pl.len(),
        additive=True,
        sample=pl.len(),
        sample_words="activities",
    ),
    KPI(
        "calls",
        "Calls",
        "Logged calls. Compare reps on calls per week, not totals, and read it with connect and meeting rates.",
        "count of activities of type call, dated in P",
        "activity",
        "leading",
        "input",
        "count",
        "up",
        "activities",
        (pl.col("type") == "call").sum(),
        rows=pl.col("type") == "call",
        additive=True,
        sample=(pl.col("type") == "call").sum(),
        sample_words="calls",
    ),
    KPI(
        "emails",
        "Emails",
        "Logged emails. Cheap to send, so watch it together with meetings booked.",
        "count of activities of type email, dated in P",
        "activity",
        "leading",
        "input",
        "count",
        "up",
        "activities",
        (pl.col("type") == "email").sum(),
        rows=pl.col("type") == "email",
        additive=True,
        sample=(pl.col("type") == "email").sum(),
        sample_words="emails",
    ),
    KPI(
        "meetings",
        "Meetings booked",
        "Meetings held or booked: the activity most tied to new opportunities. Falling meetings is the earliest warning of a thin pipeline.",
        "count of activities of type meeting, dated in P",
        "activity",
        "leading",
        "input",
        "count",
        "up",
        "activities",
        (pl.col("type") == "meeting").sum(),
        rows=pl.col("type") == "meeting",
        additive=True,
        sample=(pl.col("type") == "meeting").sum(),
        sample_words="meetings",
    ),
    KPI(
        "activities_per_rep_week",
        "Activities per rep per week",
        "Average activity load of the reps who logged any activity. Separates 'fewer reps' from 'less effort' when activity totals move.",
        "activities / (reps with activity in P x weeks in P)",
        "activity",
        "leading",
        "input",
        "count",
        "up",
        "derived",
        ratio(pl.col("activities").cast(pl.Float64), pl.col("_active_reps") * pl.col("_weeks")),
        sample_of=("activities",),
        sample_words="activities",
    ),
    KPI(
        "lead_response_hours",
        "Lead response time (median)",
        "Median hours from a lead's creation to its first response. Leads answered within the hour convert far more often; a rising median means leads are going cold.",
        "median(first_response_at - created_at) in hours, leads created in P",
        "activity",
        "leading",
        "input",
        "hours",
        "down",
        "leads",
        pl.col("response_hours").filter(pl.col("response_hours") >= 0).median(),
        rows=pl.col("response_hours") >= 0,
        sample=(pl.col("response_hours") >= 0).sum(),
        min_sample=10,
        sample_words="leads answered",
    ),
    KPI(
        "leads_contacted_1h",
        "Leads contacted within 1 hour",
        "Share of new leads that got a first response within an hour (leads never contacted count as not contacted).",
        "share of leads created in P with a first response within 1 hour",
        "activity",
        "leading",
        "input",
        "percent",
        "up",
        "leads",
        ratio(
            ((pl.col("response_hours") >= 0) & (pl.col("response_hours") <= 1.0)).fill_null(False).sum(),
            pl.len().cast(pl.Float64),
        ),
        rows=pl.col("lead_id").is_not_null(),
        sample=pl.len(),
        min_sample=20,
        sample_words="leads",
    ),
    # Pipeline and effectiveness
    KPI(
        "new_opportunities",
        "New opportunities",
        "Deals created in the period. Opportunities created now are revenue one sales cycle from now.",
        "count of deals created in P",
        "pipeline",
        "leading",
        "input",
        "count",
        "up",
        "created",
        pl.len(),
        additive=True,
        sample=pl.len(),
        sample_words="deals created",
    ),
    KPI(
        "pipeline_created",
        "New pipeline",
        "Amount of the deals created in the period: the revenue the team has started to pursue.",
        "sum(amount) of deals created in P",
        "pipeline",
        "leading",
        "input",
        "currency",
        "up",
        "created",
        AMOUNT.sum(),
        additive=True,
        sample=pl.len(),
        sample_words="deals created",
    ),
    KPI(
        "lead_conversion_rate",
        "Lead-to-opportunity conversion",
        "Share of the period's new leads that became opportunities. A drop points at lead quality or follow-up.",
        "converted leads / leads, leads created in P",
        "pipeline",
        "leading",
        "output",
        "percent",
        "up",
        "leads",
        ratio(pl.col("converted").fill_null(False).sum(), pl.len().cast(pl.Float64)),
        rows=pl.col("lead_id").is_not_null(),
        sample=pl.len(),
        min_sample=20,
        sample_words="leads",
    ),
    KPI(
        "win_rate",
        "Win rate (count)",
        "Won deals as a share of deals closed (won or lost) in the period; open deals are not in the denominator.",
        "won / (won + lost), deals closed in P",
        "pipeline",
        "lagging",
        "output",
        "percent",
        "up",
        "closed",
        ratio(won_count, CLOSED.sum().cast(pl.Float64)),
        rows=CLOSED,
        sample=N_CLOSED,
        min_sample=10,
        sample_words="closed deals",
    ),
    KPI(
        "win_rate_value",
        "Win rate (value)",
        "Won amount as a share of closed amount. Below the count win rate means the big deals are the ones being lost.",
        "won amount / closed amount, closed in P",
        "pipeline",
        "lagging",
        "output",
        "percent",
        "up",
        "closed",
        ratio(won_amount, AMOUNT.filter(CLOSED).sum()),
        rows=CLOSED,
        sample=CLOSED.sum(),
        min_sample=10,
        sample_words="closed deals",
    ),
    KPI(
        "sales_cycle_days",
        "Average sales cycle",
        "Mean days from creation to close of won deals. A longer cycle pushes revenue out and lowers velocity.",
        "mean(close_date - created_date) in days, won deals closed in P (a deal closed before it was created has no cycle)",
        "pipeline",
        "lagging",
        "output",
        "days",
        "down",
        "closed",
        pl.col("cycle_days").filter(WON).mean(),
        rows=WON,
        sample=N_CYCLES,
        min_sample=10,
        sample_words="won deals with a cycle",
    ),
    KPI(
        "sales_cycle_days_median",
        "Median sales cycle",
        "Median days from creation to close of won deals; less swayed by a few very long deals than the mean.",
        "median(close_date - created_date) in days, won deals closed in P (a deal closed before it was created has no cycle)",
        "pipeline",
        "lagging",
        "output",
        "days",
        "down",
        "closed",
        pl.col("cycle_days").filter(WON).median(),
        rows=WON,
        sample=N_CYCLES,
        min_sample=10,
        sample_words="won deals with a cycle",
    ),
    KPI(
        "open_pipeline",
        "Open pipeline",
        "Amount of open deals as of the as-of date whose close date falls in the period: what can still close.",
        "sum(amount) of open deals as of the as-of date, close date in P",
        "pipeline",
        "leading",
        "input",
        "currency",
        "up",
        "open",
        AMOUNT.sum(),
        rows=OPEN,
        additive=True,
        sample=pl.len(),
        sample_words="open deals",
    ),
    KPI(
        "weighted_pipeline",
        "Weighted pipeline",
        "Open pipeline weighted by each deal's win probability (from the file, else the stage's historical win rate): a simple forecast of what will close.",
        "sum(amount x probability) of the open deals; probability from the file, else the stage's historical win rate",
        "pipeline",
        "leading",
        "input",
        "currency",
        "up",
        "open",
        (AMOUNT * pl.col("win_probability")).sum(),
        rows=OPEN,
        additive=True,
        sample=pl.len(),
        sample_words="open deals",
    ),
    KPI(
        "pipeline_coverage",
        "Pipeline coverage",
        "Open pipeline for the period against the target still to win. Under about 3x with weeks to go usually means the target will be missed.",
        "open pipeline with close date in P / (target(P) - won_revenue to date in P)",
        "pipeline",
        "leading",
        "input",
        "ratio",
        "up",
        "derived",
        ratio(pl.col("open_pipeline"), pl.col("_target") - pl.col("won_revenue"), positive=True),
        dated=True,
        sample_of=("open_pipeline",),
        sample_words="open deals",
    ),
    KPI(
        "sales_velocity",
        "Sales velocity",
        "Revenue the pipeline produces per day: open opportunities x win rate x deal size / cycle length. Move any of the four and velocity moves.",
        "open opportunities x win_rate x avg_deal_size / sales_cycle_days (win rate, size and cycle of deals closed in P)",
        "pipeline",
        "leading",
        "output",
        "currency_per_day",
        "up",
        "derived",
        ratio(pl.col("_open_deals") * pl.col("win_rate") * pl.col("avg_deal_size"), pl.col("sales_cycle_days")),
        sample_of=("win_rate",),
        min_sample=10,
        sample_words="closed deals",
    ),
    KPI(
        "stage_conversion",
        "Stage-to-stage conversion",
        "Per stage, the share of deals that reached it and went on to the next. The stage with the lowest rate is where deals die; coach there.",
        "per stage k: deals that reached k+1 / deals that reached k, deals created in P (exact from stage history, else inferred from the furthest stage reached)",
        "pipeline",
        "leading",
        "output",
        "percent",
        "up",
        "stages",
        pl.col("reached"),
        per_stage=True,
        min_sample=10,
        sample_words="deals that reached the stage",
    ),
    KPI(
        "time_in_stage_days",
        "Average time in stage",
        "Per stage, mean days between entering and leaving it. A stage that holds deals longer than usual is a bottleneck.",
        "per stage: mean days between entering the stage and leaving it, stage left in P",
        "pipeline",
        "leading",
        "output",
        "days",
        "down",
        "stage_visits",
        pl.col("days").mean(),
        per_stage=True,
        min_sample=10,
        sample_words="deals that left the stage",
    ),
    KPI(
        "stalled_deals",
        "Stalled deals",
        "Open deals stuck in their stage 1.5x longer than that stage's median, or with no activity for 30 days. Each one needs a next step or an honest close-lost.",
        "open deals (whatever their close date) whose time in current stage exceeds 1.5x that stage's median, or with no activity for 30 days, on the as-of date",
        "pipeline",
        "leading",
        "input",
        "count",
        "down",
        "pipeline",
        pl.col("stalled").sum(),
        rows=pl.col("stalled"),
        additive=True,
        sample=pl.len(),
        sample_words="open deals",
    ),
    KPI(
        "overdue_deals",
        "Past-due open deals",
        "Open deals whose close date is already past: the forecast is stale until they are updated or closed.",
        "open deals whose close date is before the as-of date, whatever period they were due in (a state of the pipeline on the as-of date)",
        "pipeline",
        "leading",
        "input",
        "count",
        "down",
        "pipeline",
        pl.col("overdue").sum(),
        rows=pl.col("overdue"),
        additive=True,
        sample=pl.len(),
        sample_words="open deals",
    ),
    KPI(
        "forecast_accuracy",
        "Forecast accuracy",
        "How close the forecast made at the start of the period came to what was won. Needs weekly snapshots.",
        "1 - abs(forecast - actual) / actual, forecast = weighted (or commit) pipeline for P in the snapshot at P's start",
        "pipeline",
        "lagging",
        "output",
        "percent",
        "up",
        "snapshots",
        pl.lit(None),
    ),
    # Customer and retention (lagging, output)
    KPI(
        "new_customers",
        "New customers",
        "Accounts whose first won deal (or first subscription) falls in the period.",
        "accounts whose first won deal (or first subscription) falls in P",
        "customer",
        "lagging",
        "output",
        "count",
        "up",
        "customers",
        pl.col("account").n_unique(),
        additive=True,
        sample=pl.col("account").n_unique(),
        sample_words="new customers",
    ),
    KPI(
        "cac",
        "Customer acquisition cost",
        "Sales and marketing cost per new customer. Compare with CLTV: a customer must be worth several times what it costs to win.",
        "(sales_cost + marketing_cost in P) / new_customers",
        "customer",
        "lagging",
        "output",
        "currency",
        "down",
        "derived",
        ratio(pl.col("_spend"), pl.col("new_customers").cast(pl.Float64)),
        sample_of=("new_customers",),
        min_sample=10,
        sample_words="new customers",
    ),
    KPI(
        "churn_rate",
        "Customer churn rate",
        "Share of customers active at the period's start whose subscriptions had all ended by its end.",
        "customers whose subscriptions all ended in P / customers active at P's start",
        "customer",
        "lagging",
        "output",
        "percent",
        "down",
        "subscriptions",
        ratio(
            ((pl.col("mrr_start") > 0) & (pl.col("mrr_end") <= 0)).sum(),
            (pl.col("mrr_start") > 0).sum().cast(pl.Float64),
        ),
        sample=N_START,
        min_sample=20,
        sample_words="customers at the period's start",
    ),
    KPI(
        "revenue_churn_rate",
        "Gross revenue churn",
        "MRR lost to churn and contraction as a share of the MRR at the period's start.",
        "(churned + contraction MRR in P) / MRR at P's start",
        "customer",
        "lagging",
        "output",
        "percent",
        "down",
        "subscriptions",
        ratio(
            (pl.col("mrr_start") - pl.col("mrr_end")).clip(lower_bound=0).filter(pl.col("mrr_start") > 0).sum(),
            pl.col("mrr_start").sum(),
        ),
        sample=N_START,
        min_sample=20,
        sample_words="customers at the period's start",
    ),
    KPI(
        "net_revenue_retention",
        "Net revenue retention",
        "MRR kept from the customers of the period's start, with expansion added and contraction and churn taken away. Above 100% the base grows on its own.",
        "(start MRR + expansion - contraction - churned MRR) / start MRR",
        "customer",
        "lagging",
        "output",
        "percent",
        "up",
        "subscriptions",
        ratio(pl.col("mrr_end").filter(pl.col("mrr_start") > 0).sum(), pl.col("mrr_start").sum()),
        sample=N_START,
        min_sample=20,
        sample_words="customers at the period's start",
    ),
    KPI(
        "cltv",
        "Customer lifetime value",
        "Gross-margin revenue a customer brings over its lifetime: monthly ARPA x gross margin / monthly churn.",
        "monthly ARPA x gross margin / monthly churn rate (gross margin from deals, else the setting, default 100%)",
        "customer",
        "lagging",
        "output",
        "currency",
        "up",
        "derived",
        ratio(
            pl.col("_arpa") * pl.coalesce(pl.col("profit_margin"), pl.col("_default_margin")), pl.col("_monthly_churn")
        ),
        sample_of=("_monthly_churn",),
        min_sample=20,
        sample_words="customers at the period's start",
    ),
    KPI(
        "ltv_cac_ratio",
        "CLTV : CAC",
        "Customer lifetime value per unit of acquisition cost. Around 3 is healthy; under 1 the business loses money on each customer.",
        "cltv / cac",
        "customer",
        "lagging",
        "output",
        "ratio",
        "up",
        "derived",
        ratio(pl.col("cltv"), pl.col("cac")),
        sample_of=("cac",),
        min_sample=10,
        sample_words="new customers",
    ),
    KPI(
        "upsell_rate",
        "Upsell / cross-sell rate",
        "Share of won revenue that came from existing customers (upsell, cross-sell, expansion, or an account with an earlier won deal).",
        "won revenue from existing customers / won_revenue",
        "customer",
        "lagging",
        "output",
        "percent",
        "up",
        "closed",
        ratio(AMOUNT.filter(WON & pl.col("existing_customer")).sum(), won_amount),
        rows=WON,
        sample=N_WON_AMOUNT,
        min_sample=10,
        sample_words="won deals with an amount",
    ),
)
"""The public catalog, in display order."""

HELPERS: tuple[KPI, ...] = (
    KPI(
        "_target",
        "Target",
        "",
        "sum of won_revenue targets overlapping P, prorated by days",
        "",
        "lagging",
        "input",
        "currency",
        "up",
        "targets",
        pl.col("target").sum(),
        additive=True,
        internal=True,
    ),
    KPI(
        "_open_deals",
        "Open deals",
        "",
        "count of open deals, close date in P",
        "",
        "leading",
        "input",
        "count",
        "up",
        "open",
        pl.len(),
        additive=True,
        internal=True,
        sample=pl.len(),
        sample_words="open deals",
    ),
    KPI(
        "_stale_pipeline",
        "Past-due pipeline",
        "",
        "sum(amount) of open deals whose close date is before P",
        "",
        "leading",
        "input",
        "currency",
        "down",
        "stale",
        AMOUNT.sum(),
        additive=True,
        internal=True,
    ),
    KPI(
        "_stale_deals",
        "Past-due open deals before the period",
        "",
        "count of open deals whose close date is before P",
        "",
        "leading",
        "input",
        "count",
        "down",
        "stale",
        pl.len(),
        additive=True,
        internal=True,
    ),
    KPI(
        "_active_reps",
        "Active reps",
        "",
        "reps with activity in P",
        "",
        "leading",
        "input",
        "count",
        "up",
        "activities",
        pl.col("owner").n_unique(),
        internal=True,
    ),
    KPI(
        "_spend",
        "Spend",
        "",
        "sales_cost + marketing_cost in P",
        "",
        "lagging",
        "input",
        "currency",
        "down",
        "spend",
        (pl.col("sales_cost") + pl.col("marketing_cost")).sum(),
        additive=True,
        internal=True,
    ),
    KPI(
        "_arpa",
        "ARPA",
        "",
        "MRR at the end of P / customers active then",
        "",
        "lagging",
        "output",
        "currency",
        "up",
        "subscriptions",
        ratio(pl.col("mrr_end").sum(), (pl.col("mrr_end") > 0).sum().cast(pl.Float64)),
        internal=True,
    ),
    KPI(
        "_monthly_churn",
        "Monthly churn",
        "",
        "churn_rate / months in P",
        "",
        "lagging",
        "output",
        "percent",
        "down",
        "subscriptions",
        ratio(
            ((pl.col("mrr_start") > 0) & (pl.col("mrr_end") <= 0)).sum(),
            (pl.col("mrr_start") > 0).sum() * pl.col("_months").first(),
        ),
        internal=True,
        sample=N_START,
        min_sample=20,
        sample_words="customers at the period's start",
    ),
)
"""Internal measures that derived KPIs read; never shown on their own."""

BY_ID: Mapping[str, KPI] = MappingProxyType({k.id: k for k in (*REGISTRY, *HELPERS)})
"""Every KPI and helper by id."""

WINDOW_ATTRIBUTES = ("_weeks", "_months", "_default_margin")
"""Per-period values the engine provides to derived expressions."""


def get(kpi_id: str) -> KPI:
    """The KPI with this id; a ``KeyError`` naming the known ids otherwise."""
    try:
        return BY_ID[kpi_id]
    except KeyError:
        known = ", ".join(k.id for k in REGISTRY)
        raise KeyError(f"unknown KPI {kpi_id!r}; known KPIs: {known}") from None


def dependencies(kpi: KPI) -> list[str]:
    """Ids of the KPIs and helpers a derived KPI reads (transitively, dependencies first)."""
    if kpi.scope == "growth":
        return ["won_revenue"]
    if kpi.scope != "derived":
        return []
    out: list[str] = []
    for name in kpi.inputs():
        if name in BY_ID:
            for dep in [*dependencies(BY_ID[name]), name]:
                if dep not in out:
                    out.append(dep)
    return out


def catalog_frame() -> pl.DataFrame:
    """The public catalog as a frame (for the README, the KPI guide and exports)."""
    return pl.DataFrame(
        [
            {
                "id": k.id,
                "label": k.label,
                "category": k.category,
                "indicator": k.indicator,
                "kind": k.kind,
                "unit": k.unit,
                "direction": k.direction,
                "time_anchor": k.time_anchor,
                "formula": k.formula,
                "meaning": k.meaning,
                "needs": k.needs,
                "required": ", ".join(k.required_columns()) or ", ".join(dependencies(k)),
                "finding_needs": finding_needs(k),
            }
            for k in REGISTRY
        ]
    )


UNIT_NAMES = {
    "currency": "currency",
    "count": "count",
    "percent": "%",
    "days": "days",
    "hours": "hours",
    "ratio": "ratio",
    "currency_per_day": "currency/day",
}


def catalog_markdown() -> str:
    """The catalog as a Markdown table (the README's copy is checked against this)."""
    lines = [
        "| id | label | indicator | kind | unit | good | time anchor | formula | a finding needs |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for k in REGISTRY:
        formula = k.formula.replace("|", "\\|")
        lines.append(
            f"| `{k.id}` | {k.label} | {k.indicator} | {k.kind} | {UNIT_NAMES[k.unit]} | {k.direction} | "
            f"{k.time_anchor} | {formula} | {finding_needs(k)} |"
        )
    return "\n".join(lines) + "\n"


def finding_needs(kpi: KPI) -> str:
    """The fewest records behind a value for its change to be a finding, in words ("10 closed deals"); "—" for a
    census (a count of what is there, such as the open pipeline), which is always one."""
    return f"{kpi.min_sample} {kpi.sample_words}" if kpi.min_sample else "—"


def target_status(kpi_id: str, value: float | None, elapsed: float) -> str | None:
    """On track / at risk / off track for KPIs measured against a target (scorecard tiles, review cards): quota
    attainment by its pace (``value / elapsed``, the share of the period gone), pipeline coverage by 3x and 2x.

    >>> target_status("quota_attainment", 0.45, 0.5), target_status("pipeline_coverage", 2.5, 1.0)
    ('at risk', 'at risk')
    """
    if value is None:
        return None
    if kpi_id == "quota_attainment":
        pace = value / max(elapsed, 0.01)
        return "on track" if pace >= 1.0 else "at risk" if pace >= 0.85 else "off track"
    if kpi_id == "pipeline_coverage":
        return "on track" if value >= 3 else "at risk" if value >= 2 else "off track"
    return None


def why_unavailable(kpi_id: str, reason: str) -> str:
    """A KPI's label with why it cannot be computed, the label said once (reasons begin with it).

    >>> why_unavailable("mrr", "MRR needs a subscriptions table: upload one.")
    'MRR needs a subscriptions table: upload one.'
    >>> why_unavailable("mrr", "no rows in the period")
    'MRR: no rows in the period'
    """
    label = get(kpi_id).label
    return reason if reason.startswith(f"{label} ") else f"{label}: {reason}"


_SINGULAR = {"deals": "deal", "leads": "lead", "customers": "customer", "activities": "activity", "calls": "call"}


def sample_words(kpi_id: str, n: int) -> str:
    """``n`` and what the records behind a KPI are: ``"3 closed deals"``, ``"1 closed deal"``.

    >>> sample_words("win_rate", 3), sample_words("win_rate", 1), sample_words("churn_rate", 1)
    ('3 closed deals', '1 closed deal', "1 customer at the period's start")
    """
    words = get(kpi_id).sample_words or "records"
    if n == 1:
        first, *_rest = [w for w in words.split(" ") if w in _SINGULAR or w.endswith("s")] or [""]
        if first:
            words = words.replace(first, _SINGULAR.get(first, first.removesuffix("s")), 1)
    return f"{n:,} {words}"


def is_small(kpi_id: str, n: int | None) -> bool:
    """True when a KPI's value rests on fewer records than a finding needs (its ``min_sample``); a census never is.

    >>> is_small("win_rate", 3), is_small("win_rate", 10), is_small("open_pipeline", 1), is_small("win_rate", None)
    (True, False, False, False)
    """
    minimum = get(kpi_id).min_sample
    return n is not None and minimum > 0 and n < minimum


def sample_note(kpi_id: str, n: int | None) -> str | None:
    """What a value resting on too few records says instead of a finding (None when it has enough).

    >>> sample_note("win_rate", 3)
    '3 closed deals: too few to tell (a finding needs 10)'
    """
    if not is_small(kpi_id, n):
        return None
    assert n is not None
    return f"{sample_words(kpi_id, n)}: too few to tell (a finding needs {get(kpi_id).min_sample})"


def change_note(kpi_id: str, n: int | None, compared_n: int | None) -> str | None:
    """Why a change of a KPI cannot be read as good or bad: too few records behind the value or behind the value it
    is compared with; None when both have enough (every surface colours a change only then).

    >>> change_note("win_rate", 3, 40)
    '3 closed deals: too few to tell (a finding needs 10)'
    >>> change_note("win_rate", 40, 3)
    'compared with 3 closed deals: too few to tell (a finding needs 10)'
    >>> change_note("win_rate", 40, 30) is None
    True
    """
    if is_small(kpi_id, n):
        return sample_note(kpi_id, n)
    if is_small(kpi_id, compared_n):
        return f"compared with {sample_note(kpi_id, compared_n)}"
    return None
