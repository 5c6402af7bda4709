"""A seeded generator of one realistic B2B software company over two years.

~40 reps in 8 teams and 4 regions, 6 products, 3 customer segments. Prospecting activity leads deal
creation by about three weeks, and deals close one sales cycle later, so activity leads pipeline
which leads revenue. Deals carry stage history, lost reasons, slipped close dates and quarter-end
spikes; leads carry response times; won deals become subscriptions that expand, contract and churn.
Everything is a pure function of the seed and the sizes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import polars as pl

END = date(2026, 11, 20)
"""As-of date of the sample company (a Friday)."""

REGIONS = ("North America", "EMEA", "APAC", "LATAM")
REGION_WEIGHT = (0.4, 0.3, 0.18, 0.12)
PRODUCTS = (
    ("Atlas Core", "Platform", 14000.0, 0.82),
    ("Atlas Analytics", "Platform", 21000.0, 0.78),
    ("Beacon CRM", "Applications", 9000.0, 0.74),
    ("Beacon Service", "Applications", 7000.0, 0.72),
    ("Cobalt Security", "Add-ons", 4500.0, 0.66),
    ("Cobalt Backup", "Add-ons", 2500.0, 0.6),
)
PRODUCT_WEIGHT = (0.24, 0.14, 0.2, 0.14, 0.16, 0.12)
SEGMENTS = (("SMB", 0.6, 35.0), ("Mid-Market", 1.4, 62.0), ("Enterprise", 3.5, 115.0))
SEGMENT_WEIGHT = (0.5, 0.33, 0.17)
STAGES = ("Prospecting", "Qualification", "Needs Analysis", "Proposal", "Negotiation")
STAGE_PROBABILITY = (0.1, 0.2, 0.4, 0.6, 0.8)
FORECAST = ("Pipeline", "Pipeline", "Best Case", "Best Case", "Commit")
LOST_REASONS = ("Price", "Competitor", "No decision", "Timing", "Product fit")
LEAD_SOURCES = ("Inbound", "Outbound", "Partner", "Event", "Referral")
DEAL_TYPES = ("New Business", "Upsell", "Cross-sell", "Renewal")
INDUSTRIES = ("Software", "Manufacturing", "Retail", "Healthcare", "Financial Services", "Education", "Logistics")
FIRST = (
    "Ava",
    "Ben",
    "Chloe",
    "Diego",
    "Elena",
    "Farid",
    "Grace",
    "Hiro",
    "Ines",
    "Jonas",
    "Kira",
    "Liam",
    "Maya",
    "Nikhil",
    "Olga",
    "Pablo",
    "Quinn",
    "Rosa",
    "Sami",
    "Tara",
    "Uma",
    "Victor",
    "Wen",
    "Xavier",
    "Yara",
    "Zoe",
)
LAST = (
    "Adler",
    "Brooks",
    "Costa",
    "Dubois",
    "Evans",
    "Fischer",
    "Garcia",
    "Hansen",
    "Ito",
    "Jensen",
    "Khan",
    "Lopez",
    "Moreau",
    "Nakamura",
    "Okafor",
    "Patel",
    "Quispe",
    "Rossi",
    "Silva",
    "Tanaka",
    "Ueda",
    "Varga",
    "Weber",
)
SYLLABLES = (
    "Acu",
    "Bri",
    "Cor",
    "Dex",
    "Eon",
    "Fal",
    "Gra",
    "Hel",
    "Ion",
    "Jun",
    "Kel",
    "Lum",
    "Mar",
    "Nov",
    "Orb",
    "Pax",
    "Quo",
    "Rho",
    "Syn",
    "Tor",
    "Umb",
    "Vel",
    "Wex",
    "Xen",
    "Yor",
    "Zen",
)
SUFFIXES = ("tech", "soft", "works", "labs", "logic", "data", "net", "ware", "grid", "corp")


@dataclass(frozen=True)
class Sizes:
    deals: int = 20_000
    activities_per_deal: float = 10.0
    leads_per_deal: float = 1.5

    @property
    def activities(self) -> int:
        return int(self.deals * self.activities_per_deal)

    @property
    def leads(self) -> int:
        return int(self.deals * self.leads_per_deal)


def _day(offsets: np.ndarray, start: date) -> pl.Series:
    return pl.Series(offsets.astype(np.int64) + (start - date(1970, 1, 1)).days).cast(pl.Int32).cast(pl.Date)


def _datetime(seconds: np.ndarray, start: date) -> pl.Series:
    epoch = int((datetime(start.year, start.month, start.day) - datetime(1970, 1, 1)).total_seconds())
    return (pl.Series(seconds.astype(np.int64) + epoch) * 1_000_000).cast(pl.Datetime("us"))


def _account_name(i: int) -> str:
    n_syl, n_suf = len(SYLLABLES), len(SUFFIXES)
    base = f"{SYLLABLES[i % n_syl]}{SYLLABLES[(i // n_syl) % n_syl].lower()}{SUFFIXES[(i // n_syl**2) % n_suf]}"
    block = i // (n_syl * n_syl * n_suf)
    return base if block == 0 else f"{base} {block + 1}"


def generate(
    deals: int = 20_000,
    *,
    seed: int = 7,
    end: date = END,
    activities_per_deal: float = 10.0,
    leads_per_deal: float = 1.5,
) -> dict[str, pl.DataFrame]:
    """Generate the sample company's canonical tables.

    >>> tables = generate(500, seed=1)
    >>> sorted(tables)[:3], tables["deals"].height
    (['accounts', 'activities', 'deals'], 500)
    """
    rng = np.random.default_rng(seed)
    sizes = Sizes(deals, activities_per_deal, leads_per_deal)
    start = end - timedelta(days=728)
    start = start - timedelta(days=start.weekday())  # Monday
    n_days = (end - start).days + 1
    n_weeks = n_days // 7 + 1

    # --- reps, teams, regions
    n_reps = 40
    team_region = np.repeat(np.arange(4), 2)  # 8 teams, 2 per region
    rep_team = np.repeat(np.arange(8), 5)
    rep_region = team_region[rep_team]
    names = [f"{FIRST[i % len(FIRST)]} {LAST[(i * 7 + 3) % len(LAST)]}" for i in range(n_reps + 8)]
    rep_names = names[:n_reps]
    managers = names[n_reps:]
    team_names = [f"{REGIONS[team_region[t]].split()[0]} {'Hunters' if t % 2 == 0 else 'Farmers'}" for t in range(8)]
    reps = pl.DataFrame(
        {
            "owner": rep_names,
            "team": [team_names[t] for t in rep_team],
            "manager": [managers[t] for t in rep_team],
            "region": [REGIONS[r] for r in rep_region],
        }
    )
    skill = rng.uniform(0.75, 1.3, n_reps)
    win_skill = rng.uniform(0.22, 0.42, n_reps)
    response_skill = rng.uniform(0.4, 2.5, n_reps)  # median response hours

    # --- rep x week activity intensity (seasonal, with noise); deals follow it three weeks later
    weeks = np.arange(n_weeks + 3)
    phase = rng.uniform(0, 26, n_reps)
    walk = np.exp(np.cumsum(rng.normal(0, 0.08, (n_reps, n_weeks + 3)), axis=1) * 0.5)
    intensity = skill[:, None] * (1 + 0.35 * np.sin(2 * np.pi * (weeks[None, :] + phase[:, None]) / 26)) * walk
    growth = np.linspace(0.8, 1.25, n_weeks + 3)
    intensity *= growth[None, :]
    # company-wide pushes and lulls (campaigns, holidays) that every rep feels
    common = np.zeros(n_weeks + 3)
    shocks = rng.normal(0, 1, n_weeks + 3)
    for week in range(1, n_weeks + 3):
        common[week] = 0.75 * common[week - 1] + 0.65 * shocks[week]
    intensity *= np.exp(0.3 * common)[None, :]

    # --- accounts
    n_accounts = max(200, deals // 2)
    acc_region = rng.choice(4, n_accounts, p=REGION_WEIGHT)
    acc_segment = rng.choice(3, n_accounts, p=SEGMENT_WEIGHT)
    acc_names = [_account_name(int(i)) for i in rng.permutation(n_accounts)]
    accounts = pl.DataFrame(
        {
            "account": acc_names,
            "segment": [SEGMENTS[s][0] for s in acc_segment],
            "industry": rng.choice(INDUSTRIES, n_accounts).tolist(),
            "size": [("1-50", "51-1000", "1000+")[s] for s in acc_segment],
            "region": [REGIONS[r] for r in acc_region],
        }
    )
    by_region = [np.flatnonzero(acc_region == r) for r in range(4)]

    # --- deals: created per (rep, week) proportional to intensity three weeks earlier
    lagged = intensity[:, :n_weeks]
    weights = lagged.ravel() / lagged.sum()
    cell = rng.choice(weights.size, deals, p=weights)
    d_rep = cell // n_weeks
    d_week = cell % n_weeks
    created = np.minimum(d_week * 7 + rng.integers(0, 5, deals), n_days - 1)
    region_of = rep_region[d_rep]
    d_account = np.empty(deals, dtype=np.int64)
    for r in range(4):
        mask = region_of == r
        d_account[mask] = rng.choice(by_region[r], mask.sum())
    d_segment = acc_segment[d_account]
    d_product = rng.choice(len(PRODUCTS), deals, p=PRODUCT_WEIGHT)
    price = np.array([p[2] for p in PRODUCTS])[d_product]
    seg_mult = np.array([s[1] for s in SEGMENTS])[d_segment]
    amount = np.round(price * seg_mult * rng.lognormal(0, 0.35, deals), -1)
    margin = np.array([p[3] for p in PRODUCTS])[d_product] * rng.uniform(0.92, 1.05, deals)
    cycle_mean = np.array([s[2] for s in SEGMENTS])[d_segment]
    cycle = np.maximum(np.round(cycle_mean * rng.lognormal(0, 0.45, deals)), 3).astype(np.int64)
    won = rng.random(deals) < np.clip(win_skill[d_rep] * (1.15 - 0.1 * d_segment), 0.05, 0.9)
    lost_at = np.minimum(rng.geometric(0.45, deals) - 1, 4)  # lost deals mostly die early
    cycle = np.where(won, cycle, np.maximum(np.round(cycle * (lost_at + 1) / 5), 2)).astype(np.int64)
    planned_close = created + cycle
    # quarter-end spike: a third of deals are pulled or pushed to the last days of their quarter
    planned_dates = _day(planned_close, start)
    quarter_end = (planned_dates.dt.truncate("1q").dt.offset_by("3mo") - timedelta(days=1)).to_numpy()
    quarter_end_off = (quarter_end.astype("datetime64[D]") - np.datetime64(start)).astype(np.int64)
    spike = rng.random(deals) < 0.3
    close = np.where(spike, quarter_end_off - rng.integers(0, 8, deals), planned_close)
    slipped = rng.random(deals) < 0.22
    close = np.where(slipped, close + rng.integers(20, 60, deals), close)
    close = np.maximum(close, created + 1)
    is_open = close > n_days - 1
    # some open deals are past due: the rep never updated the close date
    overdue = is_open & (rng.random(deals) < 0.1)
    elapsed = np.clip((n_days - 1 - created) / np.maximum(close - created, 1), 0, 0.999)
    open_stage = np.minimum((elapsed * 5).astype(np.int64), np.where(won, 4, lost_at))
    close = np.where(overdue, n_days - 1 - rng.integers(1, 40, deals), close)
    close = np.maximum(close, created + 1)
    status = np.where(is_open, "open", np.where(won, "won", "lost"))
    stage_idx = np.where(is_open, open_stage, np.where(won, 5, 6))
    stage_names = np.array([*STAGES, "Closed Won", "Closed Lost"])
    probability = np.where(is_open, np.array(STAGE_PROBABILITY)[np.minimum(open_stage, 4)], np.where(won, 1.0, 0.0))
    forecast = np.where(is_open, np.array(FORECAST)[np.minimum(open_stage, 4)], np.where(won, "Closed", "Omitted"))
    deal_type = rng.choice(DEAL_TYPES, deals, p=(0.62, 0.2, 0.12, 0.06))
    lost_reason = np.where(status == "lost", rng.choice(LOST_REASONS, deals, p=(0.3, 0.25, 0.25, 0.12, 0.08)), "")

    deal_ids = pl.Series(np.arange(deals)).cast(pl.String).str.zfill(7)
    deals_frame = pl.DataFrame(
        {
            "deal_id": deal_ids,
            "owner": pl.Series(rep_names).gather(d_rep),
            "stage": stage_names[stage_idx],
            "status": status,
            "amount": amount,
            "currency": "USD",
            "probability": probability,
            "created_date": _day(created, start),
            "close_date": _day(close, start),
            "forecast_category": forecast,
            "deal_type": deal_type,
            "lead_source": rng.choice(LEAD_SOURCES, deals, p=(0.35, 0.25, 0.15, 0.1, 0.15)),
            "lost_reason": pl.Series(lost_reason).replace("", None),
            "pipeline": np.where(deal_type == "Renewal", "Renewals", "Sales Pipeline"),
            "product": pl.Series([p[0] for p in PRODUCTS]).gather(d_product),
            "gross_profit": np.round(amount * margin, 2),
        },
        strict=False,
    )
    account_col = pl.Series(acc_names).gather(d_account)
    deals_frame = deals_frame.with_columns(
        deal_id=pl.lit("D") + pl.col("deal_id"),
        deal_name=account_col + pl.lit(" - ") + pl.col("product"),
        account=account_col,
    ).select("deal_id", "deal_name", "account", pl.exclude("deal_id", "deal_name", "account"))

    # --- stage history: one row per stage entered, spaced over the deal's life
    reached = np.where(is_open, open_stage, np.where(won, 4, lost_at))
    closed = ~is_open
    rows_per = reached + 1 + closed.astype(np.int64)
    deal_rep = np.repeat(np.arange(deals), rows_per)
    pos = np.arange(rows_per.sum()) - np.repeat(np.cumsum(rows_per) - rows_per, rows_per)
    last = pos == np.repeat(rows_per - 1, rows_per)
    is_close_row = last & np.repeat(closed, rows_per)
    span = np.repeat(close - created, rows_per).astype(float)
    frac = np.where(is_close_row, 1.0, pos / 5.0)
    frac = np.where(~is_close_row & (pos > 0), frac * rng.uniform(0.85, 1.1, pos.size), frac)
    entered_off = np.repeat(created, rows_per) + np.floor(np.minimum(frac, 1.0) * span)
    entered_off = np.minimum(
        entered_off, np.where(np.repeat(is_open, rows_per), n_days - 1, np.repeat(close, rows_per))
    )
    hist_stage = np.where(
        is_close_row, np.where(np.repeat(won, rows_per), "Closed Won", "Closed Lost"), stage_names[np.minimum(pos, 4)]
    )
    history = pl.DataFrame(
        {
            "deal_id": deals_frame.get_column("deal_id").gather(deal_rep),
            "stage": hist_stage,
            "entered_at": _datetime(entered_off * 86400 + 9 * 3600 + pos * 60, start),
        }
    )

    # --- activities: deal-linked touches between creation and close, plus prospecting by intensity
    n_act = sizes.activities
    n_linked = int(n_act * 0.4)
    link_deal = rng.integers(0, deals, n_linked)
    # recent touches keep most open deals alive; a fifth of open deals go quiet (stalled)
    quiet = is_open & (rng.random(deals) < 0.2)
    life_end = np.where(is_open, np.where(quiet, np.maximum(created + 1, n_days - 45), n_days - 1), close)
    life_end = np.maximum(life_end, created + 1)
    link_day = created[link_deal] + (rng.random(n_linked) * (life_end[link_deal] - created[link_deal])).astype(np.int64)
    link_type = rng.choice(3, n_linked, p=(0.35, 0.4, 0.25))
    n_pro = n_act - n_linked
    pweights = intensity[:, 3 : n_weeks + 3].ravel()
    pcell = rng.choice(pweights.size, n_pro, p=pweights / pweights.sum())
    p_rep = pcell // n_weeks
    p_day = np.minimum((pcell % n_weeks) * 7 + rng.integers(0, 5, n_pro), n_days - 1)
    p_type = rng.choice(3, n_pro, p=(0.5, 0.42, 0.08))
    act_rep = np.concatenate([d_rep[link_deal], p_rep])
    act_day = np.concatenate([link_day, p_day])
    act_type = np.concatenate([link_type, p_type])
    act_deal = np.concatenate([link_deal, np.full(n_pro, -1)])
    order = np.argsort(act_day, kind="stable")
    act_rep, act_day, act_type, act_deal = act_rep[order], act_day[order], act_type[order], act_deal[order]
    seconds = act_day * 86400 + rng.integers(8 * 3600, 18 * 3600, n_act)
    deal_id_col = deals_frame.get_column("deal_id")
    activities = pl.DataFrame(
        {
            "activity_id": pl.Series(np.arange(n_act)).cast(pl.String).str.zfill(8),
            "owner": pl.Series(rep_names).gather(act_rep),
            "type": pl.Series(["call", "email", "meeting"]).gather(act_type),
            "activity_date": _datetime(seconds, start),
            "deal_id": deal_id_col.gather(np.where(act_deal >= 0, act_deal, 0)),
            "completed": act_day < n_days - 1,
        }
    ).with_columns(
        activity_id=pl.lit("A") + pl.col("activity_id"),
        deal_id=pl.when(pl.Series(act_deal >= 0)).then(pl.col("deal_id")),
    )

    # --- leads: created by marketing intensity; fast response converts better
    n_leads = sizes.leads
    l_rep = rng.choice(n_reps, n_leads, p=skill / skill.sum())
    l_day = rng.integers(0, n_days, n_leads)
    l_created = l_day * 86400 + rng.integers(7 * 3600, 20 * 3600, n_leads)
    resp_hours = rng.lognormal(np.log(response_skill[l_rep]), 1.1)
    contacted = rng.random(n_leads) > 0.08
    l_first = np.where(contacted, l_created + (resp_hours * 3600).astype(np.int64), -1)
    conv_p = np.where(contacted & (resp_hours <= 1), 0.34, np.where(contacted, 0.2, 0.02))
    converted = (rng.random(n_leads) < conv_p) & (l_day < n_days - 3)
    conv_off = np.minimum(l_day + rng.integers(1, 15, n_leads), n_days - 1)
    leads = pl.DataFrame(
        {
            "lead_id": pl.Series(np.arange(n_leads)).cast(pl.String).str.zfill(7),
            "owner": pl.Series(rep_names).gather(l_rep),
            "source": rng.choice(LEAD_SOURCES, n_leads, p=(0.45, 0.2, 0.1, 0.15, 0.1)),
            "status": np.where(converted, "Converted", np.where(contacted, "Working", "New")),
            "created_at": _datetime(l_created, start),
            "converted": converted,
            "converted_date": _day(conv_off, start),
            "first_response_at": _datetime(np.maximum(l_first, 0), start),
        }
    ).with_columns(
        lead_id=pl.lit("L") + pl.col("lead_id"),
        converted_date=pl.when(pl.Series(converted)).then(pl.col("converted_date")),
        first_response_at=pl.when(pl.Series(contacted)).then(pl.col("first_response_at")),
    )

    # --- subscriptions: every won deal is an annual contract billed as MRR; accounts churn, some contract
    won_idx = np.flatnonzero(won & ~is_open)
    s_acc = d_account[won_idx]
    s_start = close[won_idx]
    s_mrr = np.round(amount[won_idx] / 12, 2)
    churn_after = rng.exponential(36 * 30.4, n_accounts).astype(np.int64)  # days of tenure before churn
    first_start = np.full(n_accounts, np.iinfo(np.int64).max)
    np.minimum.at(first_start, s_acc, s_start)
    churn_day = first_start + churn_after
    s_end = np.where(churn_day[s_acc] > s_start, churn_day[s_acc], -1)
    s_end = np.where(s_end > n_days - 1, -1, s_end)
    contract = (rng.random(won_idx.size) < 0.12) & (s_end < 0)
    c_day = s_start + rng.integers(60, 500, won_idx.size)
    contract &= c_day < n_days - 1
    base_end = np.where(contract, c_day, s_end)
    sub_acc = np.concatenate([s_acc, s_acc[contract]])
    sub_start = np.concatenate([s_start, c_day[contract]])
    sub_end = np.concatenate([base_end, np.full(contract.sum(), -1)])
    sub_mrr = np.concatenate([s_mrr, np.round(s_mrr[contract] * rng.uniform(0.4, 0.8, contract.sum()), 2)])
    sub_product = np.concatenate([d_product[won_idx], d_product[won_idx][contract]])
    keep = (sub_end < 0) | (sub_end > sub_start)
    subscriptions = pl.DataFrame(
        {
            "account": pl.Series(acc_names).gather(sub_acc[keep]),
            "start_date": _day(sub_start[keep], start),
            "end_date": _day(np.maximum(sub_end[keep], 0), start),
            "mrr": sub_mrr[keep],
            "product": pl.Series([p[0] for p in PRODUCTS]).gather(sub_product[keep]),
        }
    ).with_columns(end_date=pl.when(pl.Series(sub_end[keep] >= 0)).then(pl.col("end_date")))

    # --- monthly quotas per rep (won revenue), set for the whole year, and monthly spend per region
    months = pl.date_range(date(start.year, start.month, 1), date(end.year, end.month, 1), "1mo", eager=True)
    month_labels = months.dt.strftime("%Y-%m").to_list()
    plan = pl.date_range(date(start.year, start.month, 1), date(end.year, 12, 1), "1mo", eager=True)
    plan_labels = plan.dt.strftime("%Y-%m").to_list()
    won_rev = deals_frame.filter(pl.col("status") == "won").group_by("owner").agg(pl.col("amount").sum())
    per_rep = dict(won_rev.iter_rows())
    # quotas rise with the company's growth (the months still to come continue the same ramp)
    ramp = 0.75 + (1.3 - 0.75) * np.arange(len(plan_labels)) / max(len(month_labels) - 1, 1)
    targets = pl.DataFrame(
        {
            "period": [m for m in plan_labels for _ in rep_names],
            "kpi": "won_revenue",
            "value": [float(round(per_rep.get(o, 0.0) / 24 * 1.1 * r / 1000) * 1000) for r in ramp for o in rep_names],
            "owner": [o for _ in plan_labels for o in rep_names],
        }
    )
    lead_month = leads.group_by(pl.col("created_at").dt.strftime("%Y-%m").alias("period"), pl.col("owner")).len()
    lead_month = (
        lead_month.join(reps.select("owner", "region"), on="owner")
        .group_by("period", "region")
        .agg(pl.col("len").sum())
    )
    scale = deals / 20_000
    spend = (
        pl.DataFrame({"period": month_labels})
        .join(pl.DataFrame({"region": list(REGIONS)}), how="cross")
        .join(lead_month, on=["period", "region"], how="left")
        .with_columns(
            sales_cost=pl.col("region").replace_strict(
                {r: 10.0 * 11_000 * scale for r in REGIONS}, return_dtype=pl.Float64
            )
            * (1 + 0.03 * pl.int_range(pl.len()).over("region") / 24),
            marketing_cost=(pl.col("len").fill_null(0) * 160.0).round(0),
        )
        .drop("len")
    )
    products = pl.DataFrame(
        {
            "product": [p[0] for p in PRODUCTS],
            "family": [p[1] for p in PRODUCTS],
            "list_price": [p[2] for p in PRODUCTS],
        }
    )
    return {
        "deals": deals_frame,
        "stage_history": history,
        "activities": activities,
        "leads": leads,
        "subscriptions": subscriptions,
        "targets": targets,
        "spend": spend,
        "reps": reps,
        "products": products,
        "accounts": accounts,
    }
