"""The 1:1 on one page, to bring to the meeting: the meeting pack's layout pieces and PDF renderer (``ui.deck``) on a
single 16:9 page. What data it is on top (the source and its files, the as-of date, the period, the peer group), then
the gaps (in red) and the strengths (in green) beside each other, each KPI beside the peers on the left (the rows that
fit: those beyond the noise first), its verdict coloured by the KPI's good direction, the deals to talk about on the
right, the definitions at the foot. No ``st.*`` here."""

from __future__ import annotations

from kpi_core.coaching import ALPHA, Coaching, difference_text, revenue_text, verdict_words
from kpi_core.formatting import format_cell, format_value
from ui.deck import (
    ACCENT,
    CELL_PAD,
    FAINT,
    INK,
    MARGIN,
    MUTED,
    RULE,
    SLACK,
    STRIPE,
    TONES,
    Box,
    Element,
    H,
    Measure,
    PdfFonts,
    Slide,
    Text,
    W,
    line_height,
    to_pdf,
)

SPLIT = 8.75
"""Inches of the page's width the KPI table takes; the deals take the rest."""
BOTTOM = 7.05
FOOT_SIZE = 7.5
GRID_SIZE = 8.5
SENTENCE_SIZE = 9
SENTENCE_LINES = 4
TONE = {"better": TONES["good"], "worse": TONES["bad"]}
"""The colour of a verdict beyond the noise (better green, worse red); every other verdict is muted."""


def _day(value: object) -> str:
    return format_cell(value, "date")


def data_line(found: Coaching, source: str) -> str:
    """What the page is about, in one line: the data (``source``: its name and files), the as-of date and where it
    came from, the open pipeline's date."""
    as_of = _day(found.as_of) + (f", {found.as_of_source}" if found.as_of_source else "")
    return (
        f"Data: {source or 'the data on screen'} · as of {as_of} · stalled and past-due deals: the open pipeline on "
        f"that date"
    )


def layout(found: Coaching, *, source: str = "", measure: Measure | None = None) -> Slide:
    """The page, laid out in inches (every text measured and fitted: nothing leaves the page or overlaps)."""
    m = measure or Measure.for_pdf(PdfFonts.find())
    slide = Slide("coaching")
    add = slide.elements.append
    full = W - 2 * MARGIN
    currency, rep, peers = found.currency, found.value, found.peers
    add(Box(MARGIN, 0.34, 0.08, 0.42, ACCENT, "accent"))
    add(Text(0.78, 0.29, full - 0.3, (m.fit(f"1:1 with {rep}", full - 0.3, 22, True),), 22, True, INK, name="title"))
    to_date = f" (to {_day(found.as_of)})" if found.period.grain != "all" and found.period.contains(found.as_of) else ""
    before = f" beside {found.previous.label}" if found.previous else ""
    subtitle = (
        f"{found.period.label}{to_date}{before} · against {peers.words}: {len(peers.members)} other rep(s), computed "
        f"without {rep} · money in {currency}"
    )
    add(Text(0.78, 0.74, full - 0.3, (m.fit(subtitle, full - 0.3, 11),), 11, False, MUTED, name="subtitle"))
    data = m.wrap(data_line(found, source), full - 0.3, 8.5, max_lines=2)
    add(Text(0.78, 0.98, full - 0.3, tuple(data), 8.5, False, MUTED, name="data"))

    y = 0.98 + line_height(8.5) * len(data) + 0.1
    summary = m.wrap(found.summary, full, 10.5, True, max_lines=2)
    add(Text(MARGIN, y, full, tuple(summary), 10.5, True, INK, name="summary"))
    y += line_height(10.5) * len(summary) + 0.06

    # the gaps and the strengths side by side, each in its colour
    gap_w = (full - 0.3) / 2
    bottoms = [y]
    for i, (kind, title, sentences) in enumerate(
        (
            ("worse", f"Gaps: worse than {peers.words}", found.gaps),
            ("better", f"Strengths: better than {peers.words}", found.strengths),
        )
    ):
        x = MARGIN + i * (gap_w + 0.3)
        ty = y
        add(Text(x, ty, gap_w, (m.fit(title, gap_w, 10.5, True),), 10.5, True, TONE[kind], name=f"{kind}-head"))
        ty += line_height(10.5) + 0.03
        if not sentences:
            add(Text(x, ty, gap_w, ("none beyond the noise",), SENTENCE_SIZE, False, MUTED, name=f"{kind}-none"))
            ty += line_height(SENTENCE_SIZE)
        for number, sentence in enumerate(sentences, start=1):
            lines = tuple(m.wrap(sentence, gap_w - 0.22, SENTENCE_SIZE, max_lines=SENTENCE_LINES))
            add(Text(x, ty, 0.22, (f"{number}.",), SENTENCE_SIZE, True, TONE[kind], name=f"{kind}-mark"))
            add(Text(x + 0.22, ty, gap_w - 0.22, lines, SENTENCE_SIZE, False, INK, name=kind))
            ty += line_height(SENTENCE_SIZE) * len(lines) + 0.04
        bottoms.append(ty)
    y = max(bottoms) + 0.1

    foot = (
        f"Beyond the noise: the rep against the peers (computed without the rep) as two samples (rates: Newcombe's "
        f"score interval; amounts and durations: Welch's t on logarithms; activities per week: the spread of the "
        f"peers' weekly rates), the page's {found.compared} comparisons judged together (Holm's correction: a rep "
        f"like the team gets any flag at most {ALPHA:.0%} of the time) and each 95% interval leaving out zero. Better "
        "or worse by each KPI's good direction. Revenue effect: what the rep would have won at the peers' value, all "
        "else the rep's own."
    )
    foot_lines = tuple(m.wrap(foot, full, FOOT_SIZE, max_lines=3))
    foot_y = BOTTOM - line_height(FOOT_SIZE) * len(foot_lines)
    add(Box(MARGIN, foot_y - 0.06, full, 0.012, RULE, "rule"))
    add(Text(MARGIN, foot_y, full, foot_lines, FOOT_SIZE, False, FAINT, name="definitions"))
    bottom = foot_y - 0.12

    slide.elements += _kpis(m, found, MARGIN, y, SPLIT - MARGIN - 0.3, bottom)
    slide.elements += _deals(m, found, SPLIT, y, W - MARGIN - SPLIT, bottom)
    return slide


HEADER = ("KPI", "{rep}", "Peers", "Difference (95% interval)", "Verdict", "Revenue effect")
ALIGNS = ("left", "right", "right", "right", "left", "right")


def _kpis(m: Measure, found: Coaching, x: float, y: float, w: float, bottom: float) -> list[Element]:
    """The KPI table: as many rows as fit (those beyond the noise first, then in the table's order), each verdict
    in its colour, every revenue effect in full; the formulas of the revenue effects beyond the noise under it."""
    out: list[Element] = [Text(x, y, w, (m.fit("Each KPI beside the peers", w, 12, True),), 12, True, INK, name="kpis")]
    y += line_height(12) + 0.05
    currency = found.currency
    rows = list(found.differences.iter_rows(named=True))
    formulas = [
        f"{r['label']}: {revenue_text(r['revenue_effect'], currency)} = {r['revenue_formula']}"
        for r in sorted(
            (r for r in rows if r["focus_rank"] is not None), key=lambda r: (r["verdict"] != "worse", r["focus_rank"])
        )
        if r["revenue_formula"] and r["revenue_effect"] is not None
    ]
    formula_lines: list[str] = []
    for text in formulas:
        formula_lines += m.wrap(text, w, FOOT_SIZE, max_lines=2)
    formula_lines = formula_lines[:6]
    room = bottom - y - (line_height(FOOT_SIZE) * len(formula_lines) + 0.1 if formula_lines else 0)
    row_h = line_height(GRID_SIZE) + 0.07
    fits = max(int((room - row_h) / row_h), 0)
    order = sorted(range(len(rows)), key=lambda i: (not rows[i]["beyond_noise"], i))
    keep = list(range(len(rows)))
    if len(rows) > fits:  # room for the "and N more" line
        keep = sorted(order[: max(fits - 1, 0)])
    hidden = len(rows) - len(keep)
    header = tuple(h.format(rep=found.value) for h in HEADER)
    cells = []
    for i in keep:
        r = rows[i]
        unit = r["unit"]
        cells.append(
            (
                r["label"],
                format_value(r["rep_value"], unit, currency),
                format_value(r["peer_value"], unit, currency),
                difference_text(r),
                "worse (funnel)" if verdict_words(r).startswith("worse (") else verdict_words(r).split(" (")[0],
                revenue_text(r["revenue_effect"], currency),
            )
        )
    size = GRID_SIZE
    for size in (GRID_SIZE, 8.0, 7.5, 7.0):  # the largest type at which every cell is whole (else names are cut)
        natural = [
            max([m.width(h, size, True)] + [m.width(c[j], size, j == 4) for c in cells]) + 2 * CELL_PAD + SLACK
            for j, h in enumerate(header)
        ]
        if sum(natural) <= w:
            break
    widths = [max(w - sum(natural[1:]), 0.5), *natural[1:]]
    out.append(Box(x, y, sum(widths), row_h, ACCENT, "kpi-header"))
    for j, h in enumerate(header):
        left = x + sum(widths[:j])
        text = m.fit(h, widths[j] - 2 * CELL_PAD, size, True)
        out.append(_cell(left, y, widths[j], row_h, text, size, True, "FFFFFF", ALIGNS[j], "kpi-head"))
    for n, (i, c) in enumerate(zip(keep, cells, strict=True), start=1):
        top = y + n * row_h
        if n % 2 == 0:
            out.append(Box(x, top, sum(widths), row_h, STRIPE, "kpi-stripe"))
        verdict = rows[i]["verdict"] if rows[i]["beyond_noise"] else None
        for j, value in enumerate(c):
            tone = TONE.get(verdict or "", INK) if j in (3, 4) and verdict else (MUTED if j == 4 else INK)
            text = m.fit(value, widths[j] - 2 * CELL_PAD, size, j == 4 and verdict is not None)
            left = x + sum(widths[:j])
            out.append(
                _cell(
                    left, top, widths[j], row_h, text, size, j == 4 and verdict is not None, tone, ALIGNS[j], "kpi-cell"
                )
            )
    y += (len(keep) + 1) * row_h
    out.append(Box(x, y, sum(widths), 0.01, RULE, "kpi-rule"))
    y += 0.05
    if hidden:
        more = (
            f"and {hidden} more without a clear difference: the app's 1:1 page and the command's table have every KPI"
        )
        out.append(Text(x, y, w, (m.fit(more, w, GRID_SIZE),), GRID_SIZE, False, MUTED, name="more"))
        y += line_height(GRID_SIZE) + 0.04
    if formula_lines:
        out.append(Text(x, y + 0.04, w, tuple(formula_lines), FOOT_SIZE, False, MUTED, name="formulas"))
    return out


def _cell(
    x: float, top: float, w: float, h: float, text: str, size: float, bold: bool, color: str, align: str, name: str
) -> Text:
    """A table cell's text, centred in its row, inside its column's padding."""
    return Text(
        x + CELL_PAD, top + (h - line_height(size)) / 2, w - 2 * CELL_PAD, (text,), size, bold, color, align, name
    )


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


def one_page(found: Coaching, *, source: str = "") -> bytes:
    """The 1:1 as a one-page PDF (DejaVu Sans embedded, as the meeting pack's). ``source``: the data, as the sidebar
    names it (its files, or the sample company)."""
    fonts = PdfFonts.find()
    return to_pdf([layout(found, source=source, measure=Measure.for_pdf(fonts))], fonts)


__all__ = ["H", "data_line", "layout", "one_page"]
