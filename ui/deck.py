"""The meeting pack's layout, and its two renderers (PPTX with python-pptx, PDF with fpdf2).

``build`` lays every slide out once, in inches on a 16:9 page, from the cells' results: text is measured with
the font the file will use, so names are shortened with an ellipsis, tables keep the rows that fit (then "and N
more", with the rest on appendix slides) and nothing leaves the slide or overlaps. ``to_pptx`` and ``to_pdf``
only draw what ``build`` placed, so the deck and the PDF show the same strings in the same places. No ``st.*``
here: ``python -m kpi_core pack`` builds the pack without a browser.
"""

from __future__ import annotations

import io
import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ui.review import CellResult, Metric, ReviewData, Table

W, H = 13.333, 7.5
"""A 16:9 slide, in inches."""
MARGIN = 0.55
CONTENT_TOP = 1.42
CONTENT_BOTTOM = 6.84
FOOTER_Y = 7.0
LINE = 1.2
"""Line height as a multiple of the type size."""
PX_PER_INCH = 88
"""Chart images are drawn at this many CSS pixels per inch of slide, with 14 px type (about 11.5 pt)."""
CHART_FONT = 14
APPENDIX_SLIDES = 2
"""At most this many appendix slides per table: the rest is in the table's download on the Weekly review page."""

INK, MUTED, FAINT = "1F2937", "5B6473", "8A93A1"
CARD, RULE, STRIPE = "F2F5F9", "DDE2E8", "F6F8FA"
ACCENT = "0072B2"
TONES = {"good": "00805A", "bad": "C24A00", "neutral": MUTED}
STATUS = {"on track": ("00805A", "On track"), "at risk": ("A86B00", "At risk"), "off track": ("C24A00", "Off track")}

DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
LIBERATION = Path("/usr/share/fonts/truetype/liberation")
CJK_FONTS: tuple[str, ...] = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf",
    "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/noto/NotoSansSC-Regular.ttf",
    "/usr/share/fonts/truetype/noto/NotoSansJP-Regular.ttf",
)
"""Where Debian's fonts-noto-cjk (and the single-script Noto fonts) put a CJK font; the first found is used."""


def line_height(size: float) -> float:
    """Inches one line of ``size``-point type takes."""
    return size * LINE / 72


def _wide(char: str) -> bool:
    return unicodedata.east_asian_width(char) in ("W", "F")


# --- measuring text ---


class Measure:
    """Widths of text in inches, from the font the file is drawn with (an estimate when no font file exists)."""

    def __init__(self, regular: Path | None, bold: Path | None) -> None:
        self.paths = {False: regular, True: bold or regular}

    @classmethod
    def for_pptx(cls) -> Measure:
        """The deck's text is Arial: Liberation Sans has its metrics; DejaVu Sans (wider) is a safe stand-in."""
        for folder, regular, bold in (
            (LIBERATION, "LiberationSans-Regular.ttf", "LiberationSans-Bold.ttf"),
            (DEJAVU, "DejaVuSans.ttf", "DejaVuSans-Bold.ttf"),
        ):
            if (folder / regular).exists():
                return cls(folder / regular, folder / bold if (folder / bold).exists() else None)
        return cls(None, None)

    @classmethod
    def for_pdf(cls, fonts: PdfFonts) -> Measure:
        return cls(fonts.regular, fonts.bold)

    @staticmethod
    @lru_cache(maxsize=8)
    def _font(path: str) -> Any:
        from PIL import ImageFont

        return ImageFont.truetype(path, size=100)

    def width(self, text: str, size: float, bold: bool = False) -> float:
        """Inches ``text`` takes in ``size``-point type (CJK characters a full em each)."""
        wide = sum(1 for c in text if _wide(c))
        narrow = "".join(c for c in text if not _wide(c)) if wide else text
        path = self.paths[bold]
        if path is None:
            points = len(narrow) * (0.62 if bold else 0.58) * size
        else:
            points = float(self._font(str(path)).getlength(narrow)) / 100 * size
        return (points + wide * size) / 72

    def fit(self, text: str, width: float, size: float, bold: bool = False) -> str:
        """``text`` on one line of ``width`` inches: whole, or cut at a word (else a character) with an ellipsis."""
        text = " ".join(text.split())
        if self.width(text, size, bold) <= width:
            return text
        low, high = 0, len(text)
        while low < high:  # the longest prefix that fits with the ellipsis
            middle = (low + high + 1) // 2
            if self.width(text[:middle].rstrip() + "…", size, bold) <= width:
                low = middle
            else:
                high = middle - 1
        cut = text[:low].rstrip()
        space = cut.rfind(" ")
        if space > len(cut) * 0.6:  # end at a word when that loses little
            cut = cut[:space].rstrip(" ,;:–-")
        return cut + "…" if cut else ""

    def wrap(self, text: str, width: float, size: float, bold: bool = False, max_lines: int = 99) -> list[str]:
        """``text`` in lines of ``width`` inches (paragraphs kept), at most ``max_lines`` (the last one ends with
        an ellipsis when text is left over)."""
        lines: list[str] = []
        for paragraph in text.splitlines() or [""]:
            words = paragraph.split()
            current = ""
            for word in words:
                candidate = f"{current} {word}".strip()
                if self.width(candidate, size, bold) <= width:
                    current = candidate
                    continue
                if current:
                    lines.append(current)
                current = word if self.width(word, size, bold) <= width else self.fit(word, width, size, bold)
            lines.append(current)
        if len(lines) > max_lines:
            rest = " ".join(lines[max_lines - 1 :])
            lines = [*lines[: max_lines - 1], self.fit(rest + " …", width, size, bold)]
        return lines


# --- what a slide holds ---


@dataclass(frozen=True)
class Text:
    x: float
    y: float
    w: float
    lines: tuple[str, ...]
    size: float
    bold: bool = False
    color: str = INK
    align: str = "left"
    name: str = "text"

    @property
    def h(self) -> float:
        return line_height(self.size) * max(len(self.lines), 1)


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float
    fill: str
    name: str = "box"
    rounded: bool = False


@dataclass(frozen=True)
class Picture:
    x: float
    y: float
    w: float
    h: float
    png: bytes
    name: str = "chart"


@dataclass(frozen=True)
class Grid:
    """A native table: the header and rows already formatted and fitted to their columns."""

    x: float
    y: float
    widths: tuple[float, ...]
    row_h: float
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    aligns: tuple[str, ...]
    size: float
    name: str = "table"

    @property
    def w(self) -> float:
        return sum(self.widths)

    @property
    def h(self) -> float:
        return self.row_h * (len(self.rows) + 1)


@dataclass(frozen=True)
class Polyline:
    points: tuple[tuple[float, float], ...]
    color: str = ACCENT
    width: float = 2.0
    """Line width in points."""
    name: str = "sparkline"


Element = Text | Box | Picture | Grid | Polyline


@dataclass
class Slide:
    kind: str
    elements: list[Element] = field(default_factory=list)
    notes: str = ""


CELL_PAD = 0.08
"""Inches of room left and right of a table cell's text."""
SLACK = 0.12
"""Inches a column gets beyond its text and margins: renderers differ a little, and a cell must never wrap."""


# --- laying out ---


@dataclass
class _Pack:
    title: str
    results: Sequence[CellResult]
    footnote: str
    as_of: date
    data: ReviewData | None
    measure: Measure
    slides: list[Slide] = field(default_factory=list)
    appendix: list[Slide] = field(default_factory=list)


def build(
    title: str,
    results: Sequence[CellResult],
    footnote: str,
    as_of: date,
    *,
    data: ReviewData | None = None,
    measure: Measure | None = None,
) -> list[Slide]:
    """Every slide of the pack: a title slide, one per cell that can be made from the data, then the appendix.

    A cell left out (``CellResult.left_out``: it needs two kept weeks, a column the data lacks, or is a note with no
    text) has no slide: the title slide names it once, with when it comes."""
    pack = _Pack(title, results, footnote, as_of, data, measure or Measure.for_pptx())
    pack.slides.append(_title_slide(pack))
    made = [r for r in results if r.shown]
    # appendix slides are numbered after every cell's slide, so their numbers are known while laying cells out
    first_appendix = len(made) + 2
    for result in made:
        pack.slides.append(_cell_slide(pack, result, first_appendix + len(pack.appendix)))
    slides = pack.slides + pack.appendix
    for number, slide in enumerate(slides[1:], start=2):
        slide.elements += _footer(pack, number, len(slides))
    return slides


def _quality_notes(pack: _Pack) -> str:
    lines = [f"Data quality: {pack.footnote}."]
    if pack.data is not None:
        lines += [f"- {w}" for w in pack.data.warnings]
    return "\n".join(lines)


def _title_slide(pack: _Pack) -> Slide:
    from ui.review import left_out

    m, data = pack.measure, pack.data
    slide = Slide("title")
    width = W - 1.6
    slide.elements.append(Box(0, 0, 0.28, H, ACCENT, "accent"))
    y = 1.75
    company = data.company if data is not None and data.company else ""
    if company:
        slide.elements.append(Text(1.0, y, width, (m.fit(company, width, 22, True),), 22, True, ACCENT, name="company"))
    y += line_height(22) + 0.12
    lines = tuple(m.wrap(pack.title, width, 44, True, max_lines=2))
    slide.elements.append(Text(1.0, y, width, lines, 44, True, INK, name="title"))
    y += line_height(44) * len(lines) + 0.2
    iso = pack.as_of.isocalendar()
    week = f"Week {iso.week}, {iso.year} · as of {pack.as_of:%A} {pack.as_of.day} {pack.as_of:%B %Y}"
    slide.elements.append(Text(1.0, y, width, (m.fit(week, width, 24),), 24, False, INK, name="week"))
    y += line_height(24) + 0.35
    source = f"Data: {data.source}" if data is not None else f"Data: {pack.footnote}"
    lines = tuple(m.wrap(source, width, 16, max_lines=3))
    slide.elements.append(Text(1.0, y, width, lines, 16, False, MUTED, name="source"))
    y += line_height(16) * len(lines) + 0.1
    quality = pack.footnote.split("; ", 1)[-1]
    slide.elements.append(
        Text(1.0, y, width, (m.fit(quality.capitalize(), width, 16),), 16, False, MUTED, name="quality")
    )
    y += line_height(16) + 0.45
    # what the pack leaves out, once, with when it comes (a slide that cannot be made has no slide)
    later = left_out(pack.results)
    if later:
        slide.elements.append(Text(1.0, y, width, ("Not in this pack",), 16, True, INK, name="left-out-title"))
        y += line_height(16) + 0.06
        room = int((6.45 - y) / line_height(14))  # above the PDF's font note
        wrapped: list[str] = []
        for entry in later:
            wrapped += m.wrap(entry, width, 14, max_lines=max(room - len(wrapped), 1))
        slide.elements.append(Text(1.0, y, width, tuple(wrapped[:room]), 14, False, INK, name="left-out"))
    whys = [f"- {r.title}: {r.left_out.why}" for r in pack.results if r.left_out is not None]
    notes = [pack.title, week, source, _quality_notes(pack)]
    if whys:
        notes.append("Not in this pack:\n" + "\n".join([*left_out(pack.results, notes=True), *whys]))
    slide.notes = "\n".join(notes)
    return slide


def _footer(pack: _Pack, number: int, total: int) -> list[Element]:
    m = pack.measure
    page = f"{number} / {total}"
    page_w = m.width(page, 9) + 0.05
    text_w = W - 2 * MARGIN - page_w - 0.3
    return [
        Box(MARGIN, FOOTER_Y - 0.08, W - 2 * MARGIN, 0.012, RULE, "rule"),
        Text(MARGIN, FOOTER_Y, text_w, (m.fit(pack.footnote, text_w, 9),), 9, False, FAINT, name="footnote"),
        Text(W - MARGIN - page_w, FOOTER_Y, page_w, (page,), 9, False, FAINT, "right", "page"),
    ]


def _header(pack: _Pack, slide: Slide, title: str, note: str) -> None:
    m = pack.measure
    width = W - 0.8 - MARGIN
    slide.elements += [
        Box(MARGIN, 0.43, 0.09, 0.5, ACCENT, "accent"),
        Text(0.8, 0.36, width, (m.fit(title, width, 28, True),), 28, True, INK, name="title"),
    ]
    if note:
        slide.elements.append(Text(0.8, 0.98, width, (m.fit(note, width, 13),), 13, False, MUTED, name="subtitle"))


def _notes(pack: _Pack, result: CellResult) -> str:
    parts = [result.title]
    if result.text:
        parts.append(result.text)
    if result.note:
        parts.append(result.note)
    if result.caveats:
        parts.append("Not shown:\n" + "\n".join(f"- {c}" for c in result.caveats))
    if result.definitions:
        parts.append("Definitions:\n" + "\n".join(f"- {d}" for d in result.definitions))
    parts.append(_quality_notes(pack))
    return "\n\n".join(parts)


def _cell_slide(pack: _Pack, result: CellResult, next_appendix: int) -> Slide:
    m = pack.measure
    slide = Slide(result.kind, notes=_notes(pack, result))
    _header(pack, slide, result.title, "" if result.kind == "note" else result.note)
    x, y, w, bottom = MARGIN, CONTENT_TOP, W - 2 * MARGIN, CONTENT_BOTTOM
    if result.kind == "note":
        body = result.text
        for size in (32, 28, 24, 20, 18, 16):
            lines = m.wrap(body, w - 0.4, size)
            if line_height(size) * len(lines) <= bottom - y - 0.3:
                break
        else:
            lines = m.wrap(body, w - 0.4, size, max_lines=int((bottom - y - 0.3) / line_height(size)))
        slide.elements.append(Text(x + 0.2, y + 0.15, w - 0.4, tuple(lines), size, False, INK, name="body"))
        return slide
    if result.text:
        y = _commentary(pack, slide, result.text, x, y, w) + 0.2
    if result.kind == "scorecard":
        if result.unavailable:  # the KPIs asked for that this data cannot give are said, not silently dropped
            said = tuple(m.wrap("Not on this data: " + "; ".join(result.unavailable), w, 12, max_lines=2))
            note_h = line_height(12) * len(said)
            slide.elements.append(Text(x, bottom - note_h, w, said, 12, False, MUTED, name="unavailable"))
            bottom -= note_h + 0.15
        _cards(pack, slide, result.metrics, x, y, w, bottom - y)
        return slide
    if result.metrics:
        y = _small_cards(pack, slide, result.metrics, x, y, w) + 0.22
    table = result.table if result.table is not None and result.table.height else None
    if result.chart is not None and table is not None:
        # the table beside the chart: as wide as it wants up to 46% of the slide, up to 60% to fit at all
        least = _natural_width(m, table, 10)
        table_w = min(_natural_width(m, table, 13), max(w * 0.46, least))
        if least > w * 0.6:  # too wide to stand beside a chart: the chart alone, the table in the appendix
            more_h = line_height(11) + 0.12
            slide.elements.append(_picture(result, x, y, w, bottom - y - more_h))
            pages = _appendix(pack, result, table, table.cells(), 0)
            where = f"slide {next_appendix}" if pages == 1 else f"slides {next_appendix}–{next_appendix + pages - 1}"
            note = f"The table ({table.height:,} {table.noun}) is in the appendix ({where})"
            slide.elements.append(
                Text(x, bottom - line_height(11), w, (m.fit(note, w, 11),), 11, False, MUTED, name="more")
            )
            return slide
        chart_w = w - table_w - 0.35
        slide.elements.append(_picture(result, x, y, chart_w, bottom - y))
        _table(pack, slide, result, table, x + chart_w + 0.35, y, table_w, bottom - y, next_appendix)
    elif result.chart is not None:
        slide.elements.append(_picture(result, x, y, w, bottom - y))
    elif table is not None:
        _table(pack, slide, result, table, x, y, w, bottom - y, next_appendix)
    return slide


def _commentary(pack: _Pack, slide: Slide, text: str, x: float, y: float, w: float) -> float:
    """The cell's commentary in a tinted band (at most three lines; all of it is in the speaker notes)."""
    lines = tuple(pack.measure.wrap(text, w - 0.5, 16, max_lines=3))
    h = line_height(16) * len(lines) + 0.24
    slide.elements += [
        Box(x, y, w, h, CARD, "commentary"),
        Box(x, y, 0.06, h, ACCENT, "commentary-accent"),
        Text(x + 0.25, y + 0.12, w - 0.5, lines, 16, False, INK, name="commentary-text"),
    ]
    return y + h


def _picture(result: CellResult, x: float, y: float, w: float, h: float) -> Picture:
    from PIL import Image

    from ui.review import chart_image

    assert result.chart is not None
    png = chart_image(result.chart, width=round(w * PX_PER_INCH), height=round(h * PX_PER_INCH), font=CHART_FONT)
    flat = io.BytesIO()  # no alpha channel: some renderers grey a transparent-capable image's white
    Image.open(io.BytesIO(png)).convert("RGB").save(flat, format="PNG", optimize=True)
    return Picture(x, y, w, h, flat.getvalue())


def _delta_texts(
    m: Measure, metric: Metric, x: float, y: float, w: float, size: float, room: float = 0.0
) -> tuple[list[Element], float]:
    """The delta in its tone's colour, then what it compares with, on one line (the comparison dropped, or cut,
    when the line is too short). Without a delta, what it compares with (or why there is none) wraps onto the
    ``room`` inches below when it does not fit one line."""
    elements: list[Element] = []
    used = 0.0
    if metric.delta:
        delta = m.fit(metric.delta, w, size, True)
        used = m.width(delta, size, True) + 0.02
        elements.append(Text(x, y, used, (delta,), size, True, TONES.get(metric.tone, MUTED), name="delta"))
    if metric.compared and not metric.delta and m.width(metric.compared, size - 3) > w and room > 0:
        small = size - 3
        lines = m.wrap(metric.compared, w, small, max_lines=max(1, min(3, int(room / line_height(small)))))
        elements.append(Text(x, y, w, tuple(lines), small, False, MUTED, name="compared"))
        return elements, line_height(small) * len(lines)
    small = size - 3
    beside = w - used - (0.1 if metric.delta else 0.0)
    if metric.compared and metric.delta and m.width(metric.compared, small) > beside and room >= line_height(small):
        # too long beside the delta ("too few to tell: 3 won deals"): on the lines below it, never cut to "too few…"
        lines = m.wrap(metric.compared, w, small, max_lines=max(1, min(2, int(room / line_height(small)))))
        elements.append(Text(x, y + line_height(size), w, tuple(lines), small, False, MUTED, name="compared"))
        return elements, line_height(size) + line_height(small) * len(lines)
    if metric.compared:
        gap = 0.1 if metric.delta else 0.0
        room = w - used - gap
        compared = m.fit(metric.compared, room, small) if room > 0.5 else ""
        if compared:
            elements.append(
                Text(
                    x + used + gap,
                    y + (line_height(size) - line_height(small)) * 0.7,
                    room,
                    (compared,),
                    small,
                    False,
                    MUTED,
                    name="compared",
                )
            )
    return elements, line_height(size)


def _small_cards(pack: _Pack, slide: Slide, metrics: Sequence[Metric], x: float, y: float, w: float) -> float:
    """A row of compact number cards (label, value, delta) above a chart or table."""
    m = pack.measure
    shown = list(metrics[:5])
    gap = 0.25
    card_w = min(3.4, (w - gap * (len(shown) - 1)) / len(shown))
    card_h = 0.22 + line_height(12) + line_height(26) + line_height(13) + 0.18
    for i, metric in enumerate(shown):
        cx = x + i * (card_w + gap)
        inner = card_w - 0.4
        slide.elements += [
            Box(cx, y, card_w, card_h, CARD, "card", rounded=True),
            Text(cx + 0.2, y + 0.14, inner, (m.fit(metric.label, inner, 12),), 12, False, MUTED, name="label"),
        ]
        value_size = next((s for s in (26, 22, 18, 16) if m.width(metric.value, s, True) <= inner), 16)
        value_y = y + 0.14 + line_height(12) + 0.02
        slide.elements.append(
            Text(
                cx + 0.2,
                value_y,
                inner,
                (m.fit(metric.value, inner, value_size, True),),
                value_size,
                True,
                INK,
                name="value",
            )
        )
        texts, _ = _delta_texts(m, metric, cx + 0.2, value_y + line_height(26) + 0.02, inner, 13)
        slide.elements += texts
    return y + card_h


def _cards(pack: _Pack, slide: Slide, metrics: Sequence[Metric], x: float, y: float, w: float, h: float) -> None:
    """The scorecard as KPI cards: label (and target status) on top, a large value, the delta coloured by the
    KPI's good direction with what it compares with, and a sparkline of the last periods when there is room.
    The value's type is the largest that fits every card; a crowded slide drops the sparklines first."""
    m = pack.measure
    if not metrics:
        slide.elements.append(Text(x, y, w, ("No KPI of this cell can be computed on this data.",), 18, False, MUTED))
        return
    shown = list(metrics[:12])
    if len(metrics) > len(shown):
        more = f"and {len(metrics) - len(shown)} more KPIs: see the Weekly review page"
        h -= line_height(11) + 0.1
        slide.elements.append(Text(x, y + h + 0.1, w, (m.fit(more, w, 11),), 11, False, MUTED, name="more"))
    n = len(shown)
    cols = n if n <= 4 else 3 if n in (5, 6, 9) else 4
    rows = math.ceil(n / cols)
    gap = 0.25 if rows < 3 else 0.18
    card_w = (w - gap * (cols - 1)) / cols
    card_h = min((h - gap * (rows - 1)) / rows, 3.2)
    pad = 0.22 if card_h >= 1.6 else 0.12
    inner = card_w - 2 * pad
    label_size, delta_size = (15, 16) if card_h >= 1.6 else (12, 13)
    spark_h = min(0.55, card_h * 0.22)

    def needed(size: float, spark: bool) -> float:
        top = 2 * pad + line_height(label_size) + 0.04 + line_height(size) + 0.04 + line_height(delta_size)
        return top + (0.08 + spark_h if spark else 0)

    def fits_width(size: float) -> bool:
        return all(m.width(k.value, size, True) <= inner for k in shown)

    sizes = [s for s in (48, 44, 40, 36, 32, 28, 24, 20, 18) if fits_width(s)] or [18]
    with_spark = any(sum(v is not None for v in k.spark) > 1 for k in shown)
    value_size, spark_room = next(
        ((s, True) for s in sizes if s >= 28 and with_spark and needed(s, True) <= card_h),
        next(((s, False) for s in sizes if needed(s, False) <= card_h), (sizes[-1], False)),
    )
    for i, metric in enumerate(shown):
        cx = x + (i % cols) * (card_w + gap)
        cy = y + (i // cols) * (card_h + gap)
        slide.elements.append(Box(cx, cy, card_w, card_h, CARD, "card", rounded=True))
        status_w = 0.0
        if metric.status in STATUS:  # top right, on the label's line
            color, words = STATUS[metric.status]
            status = f"● {words}"
            status_w = m.width(status, label_size - 2, True) + 0.05
            slide.elements.append(
                Text(
                    cx + card_w - pad - status_w,
                    cy + pad + 0.02,
                    status_w,
                    (status,),
                    label_size - 2,
                    True,
                    color,
                    "right",
                    "status",
                )
            )
        label_w = inner - (status_w + 0.12 if status_w else 0)
        slide.elements.append(
            Text(
                cx + pad,
                cy + pad,
                label_w,
                (m.fit(metric.label, label_w, label_size),),
                label_size,
                False,
                MUTED,
                name="label",
            )
        )
        value_y = cy + pad + line_height(label_size) + 0.04
        slide.elements.append(
            Text(
                cx + pad,
                value_y,
                inner,
                (m.fit(metric.value, inner, value_size, True),),
                value_size,
                True,
                INK,
                name="value",
            )
        )
        delta_y = value_y + line_height(value_size) + 0.04
        spark = spark_room and sum(v is not None for v in metric.spark) > 1
        below = cy + card_h - pad - delta_y  # a card without a sparkline lends its room to why it has no delta
        # with a sparkline, the room between the delta's line and the sparkline (for a comparison too long beside it)
        under = cy + card_h - pad - spark_h - 0.04 - delta_y - line_height(delta_size)
        texts, _ = _delta_texts(
            m, metric, cx + pad, delta_y, inner, delta_size, (under if metric.delta else 0.0) if spark else below
        )
        slide.elements += texts
        if spark:
            top = cy + card_h - pad - spark_h
            slide.elements += _sparkline(list(metric.spark), cx + pad, top, inner, spark_h, end=metric.spark_end)


SPARK_TO_DATE = "8CC3E6"
"""The running period's end of a sparkline: the accent, lighter (not over yet)."""


def _sparkline(
    values: Sequence[float | None], x: float, y: float, w: float, h: float, *, end: str = "complete"
) -> list[Polyline]:
    """A card's sparkline; ``end="to date"`` (``kpi_core.to_date``: a rate's running period) draws its last point
    apart: a dashed, lighter last segment and a hollow ring, the line before it solid."""
    known = [(i, v) for i, v in enumerate(values) if v is not None]
    low = min(v for _, v in known)
    high = max(v for _, v in known)
    span = high - low
    step = w / max(len(values) - 1, 1)
    points = tuple((x + i * step, y + (h / 2 if span == 0 else h - (v - low) / span * h)) for i, v in known)
    if end != "to date" or values[-1] is None:
        return [Polyline(points)]
    *before, (x1, y1) = points
    lines = [Polyline(tuple(before))] if len(before) > 1 else []
    (x0, y0), radius = before[-1], min(0.06, h / 4)
    length = math.hypot(x1 - x0, y1 - y0) or 1.0
    ux, uy = (x1 - x0) / length, (y1 - y0) / length
    ex, ey = x1 - radius * ux, y1 - radius * uy  # where the ring starts, on the way in

    def at(t: float) -> tuple[float, float]:
        return x0 + (ex - x0) * t, y0 + (ey - y0) * t

    dashes = 3  # dash, gap, dash, gap, dash: short lines, so the renderers need no dash style
    pieces = 2 * dashes - 1
    for k in range(dashes - 1):
        lines.append(Polyline((at(2 * k / pieces), at((2 * k + 1) / pieces)), SPARK_TO_DATE, name="sparkline-to-date"))
    start = math.atan2(-uy, -ux)
    ring = tuple(
        (x1 + radius * math.cos(start + 2 * math.pi * k / 16), y1 + radius * math.sin(start + 2 * math.pi * k / 16))
        for k in range(17)
    )
    # the last dash runs into the hollow ring as one line (two shapes would overlap)
    lines.append(Polyline((at((pieces - 1) / pieces), *ring), SPARK_TO_DATE, 1.75, name="sparkline-to-date"))
    return lines


def _natural_width(m: Measure, table: Table, size: float) -> float:
    cells = table.cells()
    return sum(
        max([m.width(name, size, True)] + [m.width(row[j], size) for row in cells]) + 2 * CELL_PAD + SLACK
        for j, name in enumerate(table.columns)
    )


def _fit_grid(
    m: Measure, table: Table, cells: list[list[str]], x: float, y: float, w: float, rows: int, size: float
) -> Grid | None:
    """The first ``rows`` rows in a grid ``w`` wide at ``size`` points, text columns shortened with an ellipsis;
    None when even the numbers do not fit."""
    shown = cells[:rows]
    columns = table.columns
    natural = [
        max([m.width(name, size, True)] + [m.width(row[j], size) for row in shown]) + 2 * CELL_PAD + SLACK
        for j, name in enumerate(columns)
    ]
    flexible = [j for j, c in enumerate(columns) if table.unit(c) == "text"]
    fixed = sum(natural[j] for j in range(len(columns)) if j not in flexible)
    if fixed > w:
        return None
    widths = list(natural)
    if sum(natural) > w:  # shrink the widest text columns first, none below its floor
        room = w - fixed
        floors = {
            j: min(natural[j], max(m.width(columns[j], size, True) + 2 * CELL_PAD + SLACK, 0.8)) for j in flexible
        }
        if room < sum(floors.values()) or not flexible:
            return None

        def total(cap: float) -> float:
            return sum(min(natural[j], max(cap, floors[j])) for j in flexible)

        low, high = 0.0, max(natural[j] for j in flexible)
        for _ in range(40):
            middle = (low + high) / 2
            low, high = (middle, high) if total(middle) <= room else (low, middle)
        for j in flexible:
            widths[j] = min(natural[j], max(low, floors[j]))
    else:  # room to spare: the text columns take it
        extra = w - sum(natural)
        grow = flexible or list(range(len(columns)))
        for j in grow:
            widths[j] += extra / len(grow)
    aligns = tuple("left" if table.unit(c) == "text" else "right" for c in columns)
    header = tuple(m.fit(name, widths[j] - 2 * CELL_PAD, size, True) for j, name in enumerate(columns))
    body = tuple(tuple(m.fit(value, widths[j] - 2 * CELL_PAD, size) for j, value in enumerate(row)) for row in shown)
    return Grid(x, y, tuple(widths), line_height(size) + 0.11, header, body, aligns, size)


def _grid_rows(h: float, size: float, more: bool) -> int:
    row_h = line_height(size) + 0.11
    return max(int((h - row_h - (line_height(11) + 0.12 if more else 0)) / row_h + 1e-9), 0)


def _table(
    pack: _Pack,
    slide: Slide,
    result: CellResult,
    table: Table,
    x: float,
    y: float,
    w: float,
    h: float,
    next_appendix: int,
) -> None:
    """A table in the box: the rows that fit, then "and N more" pointing at the appendix slides that hold the
    rest (up to :data:`APPENDIX_SLIDES`; beyond that the table's download has every row)."""
    m = pack.measure
    cells = table.cells()
    for size in (13, 12, 11, 10):
        rows = _grid_rows(h, size, more=False)
        if rows < len(cells):
            rows = _grid_rows(h, size, more=True)
        grid = _fit_grid(m, table, cells, x, y, w, rows, size)
        if grid is not None and (size <= 11 or rows >= min(len(cells), 8)):
            break
    if grid is None:
        slide.elements.append(
            Text(x, y, w, (m.fit("The table is too wide for a slide: see the download.", w, 12),), 12)
        )
        return
    slide.elements.append(grid)
    hidden = len(cells) - len(grid.rows)
    if hidden <= 0:
        return
    start = next_appendix
    pages = _appendix(pack, result, table, cells, len(grid.rows))
    end = start + pages - 1
    in_appendix = sum(len(s_rows) for s_rows in _appendix_rows(pack, table, cells, len(grid.rows)))
    where = f"slide {start}" if pages == 1 else f"slides {start}–{end}"
    noun = table.noun
    if in_appendix >= hidden:
        wordings = [f"and {hidden:,} more {noun} in the appendix ({where})", f"and {hidden:,} more: appendix, {where}"]
    else:
        wordings = [
            f"and {hidden:,} more {noun}: the next {in_appendix:,} in the appendix ({where}), all in the download",
            f"and {hidden:,} more: {in_appendix:,} in the appendix ({where}), all in the download",
            f"and {hidden:,} more: appendix, {where}",
        ]
    more = next((t for t in wordings if m.width(t, 11) <= w), m.fit(wordings[-1], w, 11))
    slide.elements.append(Text(x, grid.y + grid.h + 0.08, w, (more,), 11, False, MUTED, name="more"))


APPENDIX_SIZE = 11


def _appendix_rows(pack: _Pack, table: Table, cells: list[list[str]], start: int) -> list[list[list[str]]]:
    per_slide = _grid_rows(CONTENT_BOTTOM - CONTENT_TOP, APPENDIX_SIZE, more=True)
    rest = cells[start:]
    return [rest[i : i + per_slide] for i in range(0, len(rest), per_slide)][:APPENDIX_SLIDES]


def _appendix(pack: _Pack, result: CellResult, table: Table, cells: list[list[str]], start: int) -> int:
    """Appendix slides with the rows after the first ``start``; how many were added."""
    m = pack.measure
    chunks = _appendix_rows(pack, table, cells, start)
    first = start
    for chunk in chunks:
        slide = Slide("appendix", notes=f"Appendix: {result.title}\n\n" + _notes(pack, result))
        last = first + len(chunk)
        _header(
            pack,
            slide,
            f"Appendix: {result.title}",
            f"{table.noun.capitalize()} {first + 1:,}–{last:,} of {len(cells):,}",
        )
        grid = _fit_grid(m, table, chunk, MARGIN, CONTENT_TOP, W - 2 * MARGIN, len(chunk), APPENDIX_SIZE)
        if grid is not None:
            slide.elements.append(grid)
        if last < len(cells) and chunk is chunks[-1]:
            more = f"and {len(cells) - last:,} more {table.noun}: every row is in the table's download on the Weekly review page"
            top = CONTENT_TOP + (grid.h if grid is not None else 0) + 0.08
            slide.elements.append(
                Text(MARGIN, top, W - 2 * MARGIN, (m.fit(more, W - 2 * MARGIN, 11),), 11, False, MUTED, name="more")
            )
        pack.appendix.append(slide)
        first = last
    return len(chunks)


# --- drawing: PPTX ---


def _plain(shape: Any) -> None:
    """No theme effects on a drawn shape: the default style's shadow (and outline) would blur the cards."""
    from pptx.oxml.ns import qn

    shape.shadow.inherit = False
    style = shape._element.find(qn("p:style"))
    if style is not None:
        shape._element.remove(style)


def to_pptx(slides: Sequence[Slide]) -> bytes:
    """The slides as a 16:9 PowerPoint file (Arial text, native tables, charts as pictures, speaker notes)."""
    from pptx import Presentation
    from pptx.dml.color import RGBColor
    from pptx.enum.shapes import MSO_SHAPE
    from pptx.enum.text import MSO_ANCHOR, MSO_AUTO_SIZE, PP_ALIGN
    from pptx.util import Emu, Inches, Pt

    aligns = {"left": PP_ALIGN.LEFT, "right": PP_ALIGN.RIGHT, "center": PP_ALIGN.CENTER}
    deck = Presentation()
    deck.slide_width, deck.slide_height = Inches(W), Inches(H)
    blank = deck.slide_layouts[6]

    def style(run: Any, size: float, bold: bool, color: str) -> None:
        run.font.size, run.font.bold, run.font.name = Pt(size), bold, "Arial"
        run.font.color.rgb = RGBColor.from_string(color)

    for spec in slides:
        slide = deck.slides.add_slide(blank)
        for e in spec.elements:
            if isinstance(e, Box):
                shape = slide.shapes.add_shape(
                    MSO_SHAPE.ROUNDED_RECTANGLE if e.rounded else MSO_SHAPE.RECTANGLE,
                    Inches(e.x),
                    Inches(e.y),
                    Inches(e.w),
                    Inches(e.h),
                )
                if e.rounded:
                    shape.adjustments[0] = min(0.08 / min(e.w, e.h), 0.5)
                shape.fill.solid()
                shape.fill.fore_color.rgb = RGBColor.from_string(e.fill)
                shape.line.fill.background()
                _plain(shape)
                shape.name = e.name
            elif isinstance(e, Text):
                box = slide.shapes.add_textbox(Inches(e.x), Inches(e.y), Inches(e.w), Inches(e.h))
                box.name = e.name
                frame = box.text_frame
                frame.word_wrap = False
                frame.auto_size = MSO_AUTO_SIZE.NONE
                frame.margin_left = frame.margin_right = frame.margin_top = frame.margin_bottom = 0
                frame.vertical_anchor = MSO_ANCHOR.TOP
                for i, line in enumerate(e.lines):
                    paragraph = frame.paragraphs[0] if i == 0 else frame.add_paragraph()
                    paragraph.alignment = aligns[e.align]
                    paragraph.line_spacing = Pt(e.size * LINE)
                    run = paragraph.add_run()
                    run.text = line
                    style(run, e.size, e.bold, e.color)
            elif isinstance(e, Picture):
                picture = slide.shapes.add_picture(
                    io.BytesIO(e.png), Inches(e.x), Inches(e.y), Inches(e.w), Inches(e.h)
                )
                picture.name = e.name
            elif isinstance(e, Grid):
                frame = slide.shapes.add_table(
                    len(e.rows) + 1, len(e.widths), Inches(e.x), Inches(e.y), Inches(e.w), Inches(e.h)
                )
                frame.name = e.name
                table = frame.table
                table.first_row, table.horz_banding = True, False
                for j, width in enumerate(e.widths):
                    table.columns[j].width = Inches(width)
                for row in table.rows:
                    row.height = Inches(e.row_h)
                for i, values in enumerate([e.header, *e.rows]):
                    for j, value in enumerate(values):
                        cell = table.cell(i, j)
                        cell.margin_left = cell.margin_right = Inches(CELL_PAD)
                        cell.margin_top = cell.margin_bottom = Inches(0.02)
                        cell.vertical_anchor = MSO_ANCHOR.MIDDLE
                        cell.fill.solid()
                        cell.fill.fore_color.rgb = RGBColor.from_string(
                            ACCENT if i == 0 else STRIPE if i % 2 == 0 else "FFFFFF"
                        )
                        frame_text = cell.text_frame
                        frame_text.word_wrap = False
                        paragraph = frame_text.paragraphs[0]
                        paragraph.alignment = aligns[e.aligns[j]]
                        run = paragraph.add_run()
                        run.text = value
                        style(run, e.size, i == 0, "FFFFFF" if i == 0 else INK)
            else:
                (x0, y0), *rest = e.points
                builder = slide.shapes.build_freeform(Emu(Inches(x0)), Emu(Inches(y0)), scale=1.0)
                builder.add_line_segments([(Emu(Inches(x)), Emu(Inches(y))) for x, y in rest], close=False)
                line = builder.convert_to_shape()
                line.name = e.name
                line.fill.background()
                line.line.color.rgb = RGBColor.from_string(e.color)
                line.line.width = Pt(e.width)
                _plain(line)
        slide.notes_slide.notes_text_frame.text = spec.notes
    buffer = io.BytesIO()
    deck.save(buffer)
    return buffer.getvalue()


# --- drawing: PDF ---


@dataclass(frozen=True)
class PdfFonts:
    """The fonts the PDF embeds: DejaVu Sans (Latin, Greek, Cyrillic, €, ✓), a Noto CJK font when one is
    installed; without DejaVu, the PDF's core Helvetica (Latin-1 only), said on the title page."""

    regular: Path | None
    bold: Path | None
    cjk: Path | None

    @classmethod
    def find(cls) -> PdfFonts:
        regular, bold = DEJAVU / "DejaVuSans.ttf", DEJAVU / "DejaVuSans-Bold.ttf"
        cjk = next((Path(p) for p in CJK_FONTS if Path(p).exists()), None)
        return cls(
            regular if regular.exists() else None,
            bold if bold.exists() else regular if regular.exists() else None,
            cjk,
        )

    def covered(self) -> frozenset[int]:
        """The characters the fonts can draw (Latin-1 for the core font)."""
        return _coverage(self.regular, self.cjk)


@lru_cache(maxsize=4)
def _coverage(regular: Path | None, cjk: Path | None) -> frozenset[int]:
    from fontTools.ttLib import TTCollection, TTFont

    def cmap(path: Path) -> set[int]:
        font = TTCollection(str(path)).fonts[0] if path.suffix.lower() == ".ttc" else TTFont(str(path), lazy=True)
        return set(font.getBestCmap())

    found: set[int] = set(range(32, 256)) if regular is None else cmap(regular)
    if cjk is not None and regular is not None:
        found |= cmap(cjk)
    return frozenset(found)


def _texts(slides: Sequence[Slide]) -> list[str]:
    out: list[str] = []
    for slide in slides:
        for e in slide.elements:
            if isinstance(e, Text):
                out += e.lines
            elif isinstance(e, Grid):
                out += [*e.header, *(v for row in e.rows for v in row)]
    return out


def font_note(slides: Sequence[Slide], fonts: PdfFonts) -> str:
    """What the PDF cannot show with the fonts of this machine, and how to fix it ("" when it shows everything)."""
    covered = fonts.covered()
    missing = {c for text in _texts(slides) for c in text if ord(c) not in covered and not c.isspace()}
    if fonts.regular is None:
        return (
            "This PDF uses the core Helvetica font (Latin-1 only): install DejaVu Sans (Debian: fonts-dejavu-core) "
            + (f"to show the {len(missing)} other character(s) shown as ?." if missing else "for other scripts.")
        )
    if not missing:
        return ""
    cjk = sum(1 for c in missing if _wide(c))
    if cjk and fonts.cjk is None:
        return (
            f"{cjk} CJK character(s) are shown as □: no Noto CJK font is installed on the machine that made this "
            "PDF (Debian: fonts-noto-cjk)."
        )
    return f"{len(missing)} character(s) have no glyph in the embedded fonts and are shown as □."


def to_pdf(slides: Sequence[Slide], fonts: PdfFonts) -> bytes:
    """The slides as 16:9 PDF pages with the fonts embedded (charts as images, tables drawn as the deck's)."""
    from fpdf import FPDF

    doc = FPDF(orientation="L", unit="in", format=(H, W))
    doc.set_auto_page_break(auto=False)
    doc.set_margins(0, 0, 0)
    doc.set_title(next((e.lines[0] for e in slides[0].elements if isinstance(e, Text) and e.name == "title"), "Pack"))
    family = "Helvetica"
    if fonts.regular is not None:
        family = "DejaVu"
        doc.add_font(family, "", str(fonts.regular))
        doc.add_font(family, "B", str(fonts.bold or fonts.regular))
        if fonts.cjk is not None:
            doc.add_font("NotoCJK", "", str(fonts.cjk))
            doc.set_fallback_fonts(["NotoCJK"], exact_match=False)
    covered = fonts.covered()
    replacement = "?" if fonts.regular is None else "□"

    def clean(text: str) -> str:
        return "".join(c if ord(c) in covered or c.isspace() else replacement for c in text)

    def color(hex_color: str) -> tuple[int, int, int]:
        return int(hex_color[0:2], 16), int(hex_color[2:4], 16), int(hex_color[4:6], 16)

    def text(x: float, y: float, w: float, line: str, size: float, bold: bool, ink: str, align: str) -> None:
        doc.set_font(family, "B" if bold else "", size)
        doc.set_text_color(*color(ink))
        doc.set_xy(x, y)
        doc.cell(w, line_height(size), clean(line), align={"left": "L", "right": "R", "center": "C"}[align])

    note = font_note(slides, fonts)
    for number, spec in enumerate(slides):
        doc.add_page()
        elements = list(spec.elements)
        if number == 0 and note:
            elements.append(Text(1.0, 6.55, W - 1.6, (note,), 11, False, "C24A00", name="font-note"))
        for e in elements:
            if isinstance(e, Box):
                doc.set_fill_color(*color(e.fill))
                doc.rect(e.x, e.y, e.w, e.h, style="F", round_corners=e.rounded, corner_radius=0.08)
            elif isinstance(e, Text):
                for i, line in enumerate(e.lines):
                    text(e.x, e.y + i * line_height(e.size), e.w, line, e.size, e.bold, e.color, e.align)
            elif isinstance(e, Picture):
                doc.image(io.BytesIO(e.png), x=e.x, y=e.y, w=e.w, h=e.h)
            elif isinstance(e, Grid):
                for i, values in enumerate([e.header, *e.rows]):
                    top = e.y + i * e.row_h
                    doc.set_fill_color(*color(ACCENT if i == 0 else STRIPE if i % 2 == 0 else "FFFFFF"))
                    doc.rect(e.x, top, e.w, e.row_h, style="F")
                    left = e.x
                    for j, value in enumerate(values):
                        inner = e.widths[j] - 2 * CELL_PAD
                        y = top + (e.row_h - line_height(e.size)) / 2
                        text(left + CELL_PAD, y, inner, value, e.size, i == 0, "FFFFFF" if i == 0 else INK, e.aligns[j])
                        left += e.widths[j]
                doc.set_draw_color(*color(RULE))
                doc.set_line_width(0.01)
                doc.line(e.x, e.y + e.h, e.x + e.w, e.y + e.h)
            else:
                doc.set_draw_color(*color(e.color))
                doc.set_line_width(e.width / 72)
                doc.polyline(list(e.points), style="D")
    return bytes(doc.output())
