"""The KPIs each view shows (one place, so the pages and their tests agree)."""

from __future__ import annotations

SCORECARD: dict[str, list[str]] = {
    "Executive": [
        "won_revenue",
        "revenue_growth",
        "quota_attainment",
        "win_rate",
        "avg_deal_size",
        "arr",
        "net_revenue_retention",
        "pipeline_coverage",
        "pipeline_created",
        "new_opportunities",
        "sales_velocity",
        "cac",
        "ltv_cac_ratio",
        "forecast_accuracy",
    ],
    "Manager": [
        "won_revenue",
        "quota_attainment",
        "win_rate",
        "sales_cycle_days",
        "avg_deal_size",
        "deals_won",
        "activities_per_rep_week",
        "meetings",
        "new_opportunities",
        "pipeline_created",
        "pipeline_coverage",
        "weighted_pipeline",
        "stalled_deals",
        "overdue_deals",
        "lead_response_hours",
        "forecast_accuracy",
    ],
    "Rep": [
        "won_revenue",
        "quota_attainment",
        "deals_won",
        "win_rate",
        "calls",
        "emails",
        "meetings",
        "new_opportunities",
        "open_pipeline",
        "stalled_deals",
        "overdue_deals",
        "leads_contacted_1h",
    ],
}
"""Scorecard presets: view name -> KPI ids."""

CUSTOMERS: list[str] = [
    "mrr",
    "arr",
    "new_customers",
    "churn_rate",
    "revenue_churn_rate",
    "net_revenue_retention",
    "cac",
    "cltv",
    "ltv_cac_ratio",
    "upsell_rate",
]
"""The customer page's tiles."""
