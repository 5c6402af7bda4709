"""The 1:1 on one page, to bring to the meeting: the meeting pack's layout pieces and PDF renderer (``ui.deck``) on a
single 16:9 page. The focus sentences on top, each KPI beside the team on the left (the rows that fit: those beyond
the noise first), the deals to talk about on the right, the definitions at the foot. No ``st.*`` here."""

from __future__ import annotations

from kpi_core.coaching import Coaching, noise_words
from kpi_core.formatting import format_cell, format_value, money
from ui.deck import (
    ACCENT,
    CELL_PAD,
    FAINT,
    INK,
    MARGIN,
    MUTED,
    SLACK,
    Box,
    Element,
    Grid,
    H,
    Measure,
    PdfFonts,
    Slide,
    Text,
    W,
    line_height,
    to_pdf,
)

SPLIT = 8.45
"""Inches of the page's width the KPI table takes; the deals take the rest."""
BOTTOM = 6.95
FOOT_SIZE = 7.5
GRID_SIZE = 8.5
SENTENCE_SIZE = 10.5


def _day(value: object) -> str:
    return format_cell(value, "date")


def layout(found: Coaching, *, company: str = "", measure: Measure | None = None) -> Slide:
    """The page, laid out in inches (every text measured and fitted: nothing leaves the page or overlaps)."""
    m = measure or Measure.for_pdf(PdfFonts.find())
    slide = Slide("coaching")
    add = slide.elements.append
    full = W - 2 * MARGIN
    currency, rep, peers = found.currency, found.value, found.peers
    add(Box(MARGIN, 0.38, 0.08, 0.42, ACCENT, "accent"))
    add(Text(0.78, 0.33, full - 0.3, (m.fit(f"1:1 with {rep}", full - 0.3, 24, True),), 24, True, INK, name="title"))
    to_date = f" (to {_day(found.as_of)})" if found.period.grain != "all" and found.period.contains(found.as_of) else ""
    before = f" beside {found.previous.label}" if found.previous else ""
    subtitle = (
        f"{found.period.label}{to_date}{before} · against {peers.words}: {len(peers.members)} other rep(s), "
        f"computed without {rep}" + (f" · {company}" if company else "") + f" · money in {currency}"
    )
    add(Text(0.78, 0.83, full - 0.3, (m.fit(subtitle, full - 0.3, 11),), 11, False, MUTED, name="subtitle"))

    y = 1.22
    add(Text(MARGIN, y, full, (m.fit(f"Where {rep} differs most", full, 13, True),), 13, True, INK, name="focus-head"))
    y += line_height(13) + 0.06
    ranked = bool(found.differences["focus_rank"].is_not_null().any())
    for i, sentence in enumerate(found.focus, start=1):
        mark = f"{i}." if ranked else "–"
        lines = tuple(m.wrap(sentence, full - 0.3, SENTENCE_SIZE, max_lines=3))
        add(Text(MARGIN, y, 0.3, (mark,), SENTENCE_SIZE, True, ACCENT, name="focus-mark"))
        add(Text(MARGIN + 0.3, y, full - 0.3, lines, SENTENCE_SIZE, False, INK, name="focus"))
        y += line_height(SENTENCE_SIZE) * len(lines) + 0.06
    y += 0.12

    foot = (
        "Beyond the noise: the rep's 95% interval (Wilson for rates, a seeded bootstrap for means and medians) leaves "
        "out the peers' value (peers computed without the rep), with at least 10 deals, leads, activities or days "
        "behind it. Revenue effect: what the rep would have won at the peers' value, all else the rep's own. "
        f"As of {_day(found.as_of)}."
    )
    foot_lines = tuple(m.wrap(foot, full, FOOT_SIZE, max_lines=2))
    foot_y = BOTTOM - line_height(FOOT_SIZE) * len(foot_lines)
    add(Box(MARGIN, foot_y - 0.07, full, 0.012, "DDE2E8", "rule"))
    add(Text(MARGIN, foot_y, full, foot_lines, FOOT_SIZE, False, FAINT, name="definitions"))
    bottom = foot_y - 0.14

    slide.elements += _kpis(m, found, MARGIN, y, SPLIT - MARGIN - 0.3, bottom)
    slide.elements += _deals(m, found, SPLIT, y, W - MARGIN - SPLIT, bottom)
    return slide


def _kpis(m: Measure, found: Coaching, x: float, y: float, w: float, bottom: float) -> list[Element]:
    """The KPI table: as many rows as fit (those beyond the noise first, then in the table's order), the formulas of
    the focus rows' revenue effects under it."""
    out: list[Element] = [Text(x, y, w, (m.fit("Each KPI beside the peers", w, 12, True),), 12, True, INK, name="kpis")]
    y += line_height(12) + 0.06
    currency = found.currency
    rows = list(found.differences.iter_rows(named=True))
    formulas = [
        f"{r['label']}: {r['revenue_formula']}"
        for r in sorted((r for r in rows if r["focus_rank"] is not None), key=lambda r: r["focus_rank"])
        if r["revenue_formula"]
    ]
    formula_lines: list[str] = []
    for text in formulas:
        formula_lines += m.wrap(text, w, FOOT_SIZE, max_lines=2)
    room = bottom - y - (line_height(FOOT_SIZE) * len(formula_lines) + 0.1 if formula_lines else 0)
    size = GRID_SIZE
    row_h = line_height(size) + 0.07
    fits = max(int((room - row_h) / row_h), 0)
    order = sorted(range(len(rows)), key=lambda i: (not rows[i]["beyond_noise"], i))
    keep = sorted(order[:fits]) if len(rows) > fits else list(range(len(rows)))
    hidden = len(rows) - len(keep)
    if hidden:  # room for the "and N more" line
        keep = sorted(order[: max(fits - 1, 0)])
        hidden = len(rows) - len(keep)
    header = ("KPI", found.value, "Peers", "95% interval", "n", "Beyond noise", "Revenue effect")
    cells = []
    for i in keep:
        r = rows[i]
        unit = r["unit"]
        interval = (
            "—"
            if r["ci_low"] is None
            else f"{format_value(r['ci_low'], unit, currency)} to {format_value(r['ci_high'], unit, currency)}"
        )
        beyond = noise_words(r)
        cells.append(
            (
                r["label"],
                format_value(r["rep_value"], unit, currency),
                format_value(r["peer_value"], unit, currency),
                interval,
                format_cell(r["n"], "count"),
                "yes (funnel)" if beyond.startswith("yes (") else beyond,
                "—" if r["revenue_effect"] is None else money(r["revenue_effect"], currency),
            )
        )
    for size in (GRID_SIZE, 8.0, 7.5, 7.0):  # the largest type at which the numbers leave the KPI names room
        natural = [
            max([m.width(h, size, True)] + [m.width(c[j], size) for c in cells]) + 2 * CELL_PAD + SLACK
            for j, h in enumerate(header)
        ]
        if sum(natural[1:]) + 1.6 <= w:
            break
    widths = [max(w - sum(natural[1:]), 0.5), *natural[1:]]
    fitted_header = tuple(m.fit(h, widths[j] - 2 * CELL_PAD, size, True) for j, h in enumerate(header))
    body = tuple(tuple(m.fit(v, widths[j] - 2 * CELL_PAD, size) for j, v in enumerate(c)) for c in cells)
    aligns = ("left", "right", "right", "right", "right", "left", "right")
    grid = Grid(x, y, tuple(widths), row_h, fitted_header, body, aligns, size, name="kpi-table")
    out.append(grid)
    y = grid.y + grid.h + 0.05
    if hidden:
        more = f"and {hidden} more within the noise: the app's 1:1 page and the command's table have every KPI"
        out.append(Text(x, y, w, (m.fit(more, w, GRID_SIZE),), GRID_SIZE, False, MUTED, name="more"))
        y += line_height(GRID_SIZE) + 0.04
    if formula_lines:
        out.append(Text(x, y + 0.04, w, tuple(formula_lines), FOOT_SIZE, False, MUTED, name="formulas"))
    return out


def _deals(m: Measure, found: Coaching, x: float, y: float, w: float, bottom: float) -> list[Element]:
    """The deals to talk about: a line of who, where and how much, then the facts behind the flags."""
    out: list[Element] = [Text(x, y, w, (m.fit("Deals to talk about", w, 12, True),), 12, True, INK, name="deals")]
    y += line_height(12) + 0.08
    deals = list(found.deals.iter_rows(named=True))
    if not deals:
        text = m.wrap(
            f"{found.value} has no open deal that is stalled, past due, slipped or among their largest.", w, 10
        )
        out.append(Text(x, y, w, tuple(text), 10, False, MUTED, name="no-deals"))
        return out
    more_h = line_height(9) + 0.04
    shown = 0
    for i, d in enumerate(deals):
        name = str(d["deal_name"] or d["deal_id"])
        amount = format_cell(d["amount"], "currency", found.currency)
        amount_w = m.width(amount, 9.5, True) + 0.05
        facts = m.wrap(
            f"{d['stage']} · close {_day(d['close_date'])} · {d['flags']}: {d['facts']}", w - 0.15, 8.5, max_lines=3
        )
        need = line_height(9.5) + line_height(8.5) * len(facts) + 0.1
        left = len(deals) - i - 1
        if y + need + (more_h if left else 0) > bottom:
            break
        name_w = max(w - amount_w - 0.15, 0.8)
        out.append(Text(x, y, name_w, (m.fit(name, name_w, 9.5, True),), 9.5, True, INK, name="deal"))
        out.append(Text(x + w - amount_w, y, amount_w, (amount,), 9.5, True, INK, "right", "deal-amount"))
        y += line_height(9.5)
        out.append(Text(x + 0.15, y, w - 0.15, tuple(facts), 8.5, False, MUTED, name="deal-facts"))
        y += line_height(8.5) * len(facts) + 0.1
        shown += 1
    if shown < len(deals):
        more = f"and {len(deals) - shown} more flagged deals: the app's 1:1 page lists them all"
        out.append(Text(x, y, w, (m.fit(more, w, 9),), 9, False, MUTED, name="more-deals"))
    return out


def one_page(found: Coaching, *, company: str = "") -> bytes:
    """The 1:1 as a one-page PDF (DejaVu Sans embedded, as the meeting pack's)."""
    fonts = PdfFonts.find()
    return to_pdf([layout(found, company=company, measure=Measure.for_pdf(fonts))], fonts)


__all__ = ["H", "layout", "one_page"]
