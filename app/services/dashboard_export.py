"""Every dashboard table as CSV or XLSX: the same rows the page shows (the employees' table
whole, not a page of it), so a department can file or re-analyse what it saw.

Text cells that a spreadsheet would run as a formula (starting with =, +, -, @) are written as
plain text: names and unit names come from imported org data.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from app.services.dashboards import Dashboard

STAGE_NAMES = {
    "goal_setting": "Goal setting", "monthly_actuals": "Monthly actuals",
    "mid_year_review": "Mid-year review", "appraisal_interview": "Appraisal interview",
    "calibration": "Calibration", "incentive_approval": "Incentive approval",
    "completed": "Year closed",
}
BAND_NAMES = {"outstanding": "Outstanding", "very_good": "Very good", "good": "Good",
              "average": "Average", "below_average": "Below average"}

HEADERS = {
    "stages": ["Stage", "Employees done", "Done (%)", "At this stage now"],
    "ratings": ["Band", "Employees", "Of those rated (%)", "Guideline (%)", "Final"],
    "units": ["Rank", "Unit", "Code", "Employees", "Goals set", "Year closed", "Completion (%)",
              "Overdue", "Average KPI achievement (%)", "Average score", "Rated"],
    "trend": ["Month", "Average KPI achievement (%)", "Employees reporting"],
    "employees": ["Employee number", "Name", "Designation", "Stage", "Months reported",
                  "Open tasks", "Overdue", "Average KPI achievement (%)", "Score", "Band",
                  "Band final", "Incentive (PKR)", "Incentive status", "Case"],
}


def table_rows(view: Dashboard, table: str) -> tuple[list[str], list[list[Any]]]:
    """The header and rows of one dashboard table (a name from dashboards.TABLES)."""
    if table == "stages":
        rows = [[STAGE_NAMES[s["stage"]], s["done"], s["percent"], s["at_stage"]]
                for s in view.stages]
    elif table == "ratings":
        rows = [[BAND_NAMES.get(r["band"], r["band"]), r["count"], r["percent"],
                 r["guideline"], r["final"]] for r in view.ratings]
    elif table == "units":
        rows = [[u.rank or None,
                 f"{u.name} (own staff)" if u.own_staff else u.name, u.code, u.employees,
                 u.stage_done["goal_setting"], u.completed, u.completion_percent, u.overdue,
                 u.achievement, u.score, u.rated] for u in view.units]
    elif table == "trend":
        rows = [[t["month"], t["achievement"], t["employees"]] for t in view.trend]
    elif table == "employees":
        rows = [[e["employee_number"], e["name"], e["designation"],
                 STAGE_NAMES.get(e["stage"], e["stage"]), e["months"], e["open_tasks"],
                 "yes" if e["overdue"] else "no", e["achievement"], e["score"],
                 BAND_NAMES.get(e["band"] or "", e["band"]), "yes" if e["final"] else "no",
                 e["incentive"], e["incentive_status"], e["case_id"]] for e in view.staff]
    else:
        raise ValueError(table)
    return HEADERS[table], rows


def _risky(value: Any) -> bool:
    return isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r")


def to_csv(headers: list[str], rows: list[list[Any]]) -> bytes:
    """UTF-8 with a byte-order mark (spreadsheets then read Urdu names correctly)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers)
    for row in rows:
        writer.writerow(["'" + v if _risky(v) else ("" if v is None else v) for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(title: str, headers: list[str], rows: list[list[Any]]) -> bytes:
    """One worksheet, the header first; numbers stay numbers."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31])
    sheet.append(headers)
    for row in rows:
        cells = []
        for value in row:
            cell = WriteOnlyCell(sheet, value=value)
            if _risky(value):
                cell.data_type = "s"  # text, never a formula
            cells.append(cell)
        sheet.append(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
