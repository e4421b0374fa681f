"""Drawing an appraisal report (app.services.appraisal_report) as an A4 PDF with fpdf2.

Fonts: Unicode TrueType fonts from Debian packages that scripts/setup.sh installs —
fonts-dejavu-core (DejaVu Sans, Latin text) and fonts-sil-scheherazade (Scheherazade, for text
in the Arabic script: Urdu names and comments) — shaped with HarfBuzz (uharfbuzz) so Urdu
letters join and run right to left. `REPORT_FONT_DIRS` in the app config adds folders to look
in. Without DejaVu the report falls back to the PDF's built-in Helvetica (Latin-1 only: other
characters print as "?"), and Urdu text without Scheherazade is drawn with DejaVu, which lacks
a few Urdu letters; both are logged, neither stops the report.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from flask import current_app
from fpdf import FPDF, FontFace
from fpdf.enums import TableBordersLayout, XPos, YPos

from app.services.appraisal_report import (
    ARABIC_LETTERS,
    AppraisalReport,
    Facts,
    Paragraph,
    Section,
    Table,
    block_texts,
    has_arabic_script,
)

log = logging.getLogger(__name__)
# Scheherazade carries SIL Graphite tables besides its OpenType ones; fontTools drops them when
# subsetting (HarfBuzz shapes with OpenType) and says so on every report with Urdu text.
logging.getLogger("fontTools.subset").setLevel(logging.ERROR)

FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/truetype/scheherazade",
             "/usr/share/fonts/truetype/sil-scheherazade")
LATIN_FILES = {"": ("DejaVuSans.ttf",), "B": ("DejaVuSans-Bold.ttf",)}
ARABIC_FILES = {"": ("ScheherazadeNew-Regular.ttf", "Scheherazade-Regular.ttf"),
                "B": ("ScheherazadeNew-Bold.ttf", "Scheherazade-Bold.ttf")}
# What the built-in Helvetica cannot encode, spelled in Latin-1.
LATIN1_SPELLING = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'", "–": "-", "—": "-",
                                 "Σ": "sum of", "÷": "/", "…": "...", "→": "->", "·": "-"})
ARABIC_RUN = re.compile(f"[{ARABIC_LETTERS}]+(?:[\\s\u200c]+[{ARABIC_LETTERS}]+)*")
LATIN_LETTER = re.compile("[A-Za-z]")
# Scheherazade's letters are small for their point size beside DejaVu's: Urdu is drawn larger.
ARABIC_SCALE = 1.35
INK = (33, 37, 41)
MUTED = (95, 99, 104)
RULE = (200, 204, 208)
HEADING_FILL = (233, 236, 239)
PAGE_MARGIN = 15.0
BODY_SIZE = 9.0


@dataclass(frozen=True)
class Fonts:
    latin: str  # the family for text in Latin script
    arabic: str  # the family for text in the Arabic script
    unicode: bool  # False: the built-in Helvetica, Latin-1 only
    shaping: bool = False  # HarfBuzz is there to shape Urdu


def _find(names: tuple[str, ...]) -> Path | None:
    dirs = [*current_app.config.get("REPORT_FONT_DIRS", ()), *FONT_DIRS]
    for folder in dirs:
        for name in names:
            path = Path(folder) / name
            if path.is_file():
                return path
    return None


def _load_fonts(pdf: FPDF, needs_arabic: bool) -> Fonts:
    latin = {style: _find(names) for style, names in LATIN_FILES.items()}
    if not all(latin.values()):
        log.warning("report fonts: DejaVu Sans not found (install fonts-dejavu-core); "
                    "drawing with Helvetica, Latin-1 only")
        return Fonts("helvetica", "helvetica", unicode=False)
    for style, path in latin.items():
        pdf.add_font("report-latin", style, str(path))
    arabic = {style: _find(names) for style, names in ARABIC_FILES.items()}
    arabic_family = "report-latin"
    if not needs_arabic:
        pass  # embedded only when something is written in the Arabic script
    elif all(arabic.values()):
        for style, path in arabic.items():
            pdf.add_font("report-arabic", style, str(path))
        arabic_family = "report-arabic"
    else:
        log.warning("report fonts: Scheherazade not found (install fonts-sil-scheherazade); "
                    "Urdu text drawn with DejaVu Sans")
    shaping = False
    if needs_arabic:
        try:
            pdf.set_text_shaping(True)
            pdf.set_text_shaping(False)  # switched on around Urdu text only (ReportPDF.shaped)
            shaping = True
        except ImportError:  # uharfbuzz missing: letters print unjoined, but print
            log.warning("report fonts: uharfbuzz not installed; Urdu text is not shaped")
    return Fonts("report-latin", arabic_family, unicode=True, shaping=shaping)


class ReportPDF(FPDF):
    """A4 pages with a running head (after the first page) and a footer naming the case, the
    generation, the digest and "page X of Y"."""

    def __init__(self, report: AppraisalReport, footer_text: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.report = report
        self.footer_text = footer_text
        self.report_fonts = _load_fonts(self, has_arabic_script(report.text()))
        self.set_margins(PAGE_MARGIN, PAGE_MARGIN, PAGE_MARGIN)
        self.set_auto_page_break(True, margin=20)
        self.set_title(f"{report.title}: case #{report.case_id}")
        self.set_author("Meezan")
        self.set_creator("Meezan")
        self.set_subject(report.subtitle)

    def clean(self, text: str) -> str:
        """The text as the font can draw it. In a line that mixes Latin words with an Urdu
        name, each Urdu run is isolated (RLI…PDI), so the line reads left to right with the
        name right to left inside it; otherwise the bidi algorithm would take the line's
        direction from its first letter and pull neighbouring numbers into the name."""
        if self.report_fonts.unicode:
            if has_arabic_script(text) and LATIN_LETTER.search(text):
                return ARABIC_RUN.sub(lambda run: f"\u2067{run.group(0)}\u2069", text)
            return text
        return text.translate(LATIN1_SPELLING).encode("latin-1", "replace").decode("latin-1")

    @contextmanager
    def shaped(self, texts: Iterable[str]) -> Iterator[None]:
        """HarfBuzz shaping while drawing these texts if any is Urdu (letters joined, right to
        left). Only then: shaping measures every glyph and would triple the drawing time of
        Latin text, which needs none. The previous state comes back afterwards (a running
        head drawn at a page break inside a table must not switch it off for the table)."""
        previous = self.text_shaping
        if self.report_fonts.shaping and any(has_arabic_script(t) for t in texts):
            self.set_text_shaping(True)
        try:
            yield
        finally:
            self.text_shaping = previous

    def family_for(self, text: str) -> str:
        return self.report_fonts.arabic if has_arabic_script(text) else self.report_fonts.latin

    def size_for(self, text: str, size: float) -> float:
        arabic = self.report_fonts.arabic != self.report_fonts.latin and has_arabic_script(text)
        return size * ARABIC_SCALE if arabic else size

    def use(self, text: str, style: str = "", size: float = BODY_SIZE) -> str:
        """Set the font that can draw `text`; returns the text as the font can encode it."""
        self.set_font(self.family_for(text), style, self.size_for(text, size))
        return self.clean(text)

    def header(self) -> None:
        if self.page_no() == 1:
            return
        text = self.use(self.report.running_head, size=7.5)
        self.set_text_color(*MUTED)
        with self.shaped([text]):
            self.cell(0, 5, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_draw_color(*RULE)
        self.line(PAGE_MARGIN, self.get_y(), self.w - PAGE_MARGIN, self.get_y())
        self.ln(3)
        self.set_text_color(*INK)

    def footer(self) -> None:
        self.set_y(-14)
        self.set_draw_color(*RULE)
        self.line(PAGE_MARGIN, self.get_y(), self.w - PAGE_MARGIN, self.get_y())
        self.ln(1)
        self.set_font(self.report_fonts.latin, "", 7)
        self.set_text_color(*MUTED)
        width = self.w - 2 * PAGE_MARGIN
        previous, self.text_shaping = self.text_shaping, None  # Latin, and "{nb}" unshaped
        self.cell(width - 28, 4, self.clean(self.footer_text), align="L")
        self.cell(28, 4, f"Page {self.page_no()} of {{nb}}", align="R")
        self.text_shaping = previous
        self.set_text_color(*INK)


def render(report: AppraisalReport, *, digest: str, audit_seq: int, generated_at: datetime,
           generated_by: str) -> bytes:
    """The report as PDF bytes."""
    stamp = report.times.moment(generated_at)
    footer = (f"Meezan · case #{report.case_id} · generated {stamp} · audit event "
              f"#{audit_seq} · SHA-256 {digest[:16]}…")
    pdf = ReportPDF(report, footer)
    pdf.add_page()
    _title(pdf, report)
    for section in report.sections:
        _section(pdf, section)
    _verification(pdf, report, digest, audit_seq, stamp, generated_by)
    return bytes(pdf.output())


def _title(pdf: ReportPDF, report: AppraisalReport) -> None:
    pdf.multi_cell(0, 8, pdf.use(report.title, "B", 16), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(*MUTED)
    with pdf.shaped([report.subtitle]):
        pdf.multi_cell(0, 5, pdf.use(report.subtitle, size=9), new_x=XPos.LMARGIN,
                       new_y=YPos.NEXT)
    pdf.set_text_color(*INK)
    pdf.ln(3)


def _section(pdf: ReportPDF, section: Section, keep_together: float = 35) -> None:
    """A heading and its blocks; a new page first if less than `keep_together` mm are left
    (a heading is never left alone at the foot of a page)."""
    if pdf.get_y() > pdf.h - pdf.b_margin - keep_together:
        pdf.add_page()
    pdf.ln(2)
    pdf.multi_cell(0, 7, pdf.use(section.title, "B", 12), new_x=XPos.LMARGIN,
                   new_y=YPos.NEXT)
    pdf.set_draw_color(*RULE)
    pdf.line(PAGE_MARGIN, pdf.get_y(), pdf.w - PAGE_MARGIN, pdf.get_y())
    pdf.ln(2)
    for block in section.blocks:
        with pdf.shaped(block_texts(block)):
            if isinstance(block, Facts):
                _facts(pdf, block)
            elif isinstance(block, Paragraph):
                _paragraph(pdf, block)
            else:
                _table(pdf, block)
        pdf.ln(1.5)


def _paragraph(pdf: ReportPDF, block: Paragraph) -> None:
    if block.muted:
        pdf.set_text_color(*MUTED)
    pdf.multi_cell(0, 4.6, pdf.use(block.text, size=BODY_SIZE - (0.5 if block.muted else 0)),
                   new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(*INK)


def _cell_style(pdf: ReportPDF, text: str, size: float, bold: bool = False) -> FontFace:
    return FontFace(family=pdf.family_for(text), emphasis="BOLD" if bold else None,
                    size_pt=pdf.size_for(text, size))


def _facts(pdf: ReportPDF, block: Facts) -> None:
    pdf.set_font(pdf.report_fonts.latin, "", BODY_SIZE)
    with pdf.table(col_widths=(30, 70), first_row_as_headings=False, line_height=4.8,
                   text_align=("LEFT", "LEFT"),
                   borders_layout=TableBordersLayout.HORIZONTAL_LINES,
                   padding=(1, 1.5), v_align="TOP") as table:
        for label, value in block.rows:
            row = table.row()
            row.cell(pdf.clean(label), style=_cell_style(pdf, label, BODY_SIZE, bold=True))
            row.cell(pdf.clean(value), style=_cell_style(pdf, value, BODY_SIZE))


def _table(pdf: ReportPDF, block: Table) -> None:
    size = BODY_SIZE - (1.5 if len(block.headers) > 6 else 0.5)
    pdf.set_font(pdf.report_fonts.latin, "", size)
    numeric = block.numeric or [False] * len(block.headers)
    align = tuple("RIGHT" if right else "LEFT" for right in numeric)
    with pdf.table(col_widths=tuple(block.widths), text_align=align, line_height=size * 0.5,
                   headings_style=FontFace(family=pdf.report_fonts.latin, emphasis="BOLD",
                                           fill_color=HEADING_FILL),
                   borders_layout=TableBordersLayout.SINGLE_TOP_LINE, padding=(1, 1.2),
                   v_align="TOP", repeat_headings=1) as table:
        heading = table.row()
        for text in block.headers:  # KPI names head the monthly table's columns
            heading.cell(pdf.clean(text), style=FontFace(
                family=pdf.family_for(text), emphasis="BOLD", fill_color=HEADING_FILL,
                size_pt=pdf.size_for(text, size)) if has_arabic_script(text) else None)
        for values in block.rows:
            row = table.row()
            for text in values:
                row.cell(pdf.clean(text), style=_cell_style(pdf, text, size))


def _verification(pdf: ReportPDF, report: AppraisalReport, digest: str, audit_seq: int,
                  stamp: str, generated_by: str) -> None:
    as_of = (f"audit event #{report.as_of_event_seq} (hash {report.as_of_event_hash})"
             if report.as_of_event_seq is not None else "no audit event yet")
    _section(pdf, Section("Checking this copy", [
        Facts([("Generated", f"{stamp} by {generated_by}"),
               ("Case", f"#{report.case_id}"),
               ("Reflects the case up to", as_of),
               ("Content SHA-256", digest),
               ("Generation recorded as", f"audit event #{audit_seq}")]),
        Paragraph("The SHA-256 is computed over everything this report says. An auditor checks "
                  f"a printed copy by finding audit event #{audit_seq} of case "
                  f"#{report.case_id} in Meezan's audit trail (which is hash-chained: "
                  "flask audit verify): its details carry the same SHA-256. Generating the "
                  "report again for the same state of the case gives the same SHA-256.",
                  muted=True)]), keep_together=75)
