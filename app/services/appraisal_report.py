"""The appraisal report of one employee's case, as a PDF to print and file.

The report is built in two steps. `build_report` reads the case (its data, its completed task
rows and its audit trail) into plain sections — headings, facts, tables, paragraphs — saying in
words what has not happened yet rather than leaving it blank. `generate` checks who asks (the
people who may see the case), records a `report_generated` audit event carrying the SHA-256 of
those sections, and draws them (app.services.report_pdf). A printed copy can be checked: its
footer names the case, the audit event that recorded its generation and the first characters of
the digest, which the audit trail keeps in full.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from flask import Response

from app.engine import WorkflowRuntime
from app.models import AuditEventType, Case, HumanTask, TaskStatus, User
from app.models.base import utcnow
from app.services import appraisal, audit, cases, process_models
from app.services.transaction import unit_of_work

# The stages of the year, by the called process (or user task) that carries each. A case's
# report covers the stages its process version contains: a goal-setting case shows its
# scorecard and signatures, not an interview it will never have.
STAGES = ("goal_setting", "monthly_actuals", "mid_year_review", "appraisal_interview",
          "calibrate_rating", "incentive_approval")

LANE_ROLES = {
    "employee": "Employee",
    "reporting_officer": "Reporting officer",
    "countersigning_officer": "Countersigning officer",
    "next_level_officer": "Next-level officer",
    "hr": "HR",
    "department_head": "Department head",
    "finance": "Finance",
}
# The task completions that are signatures on the appraisal, in the year's order.
SIGNATURE_TASKS = {
    "design_scorecard": "designed the scorecard",
    "review_scorecard": "reviewed the scorecard",
    "countersign_scorecard": "countersigned the scorecard",
    "countersign_scorecard_escalated": "countersigned the scorecard (escalated)",
    "self_assessment": "mid-year self-assessment",
    "officer_review": "mid-year review",
    "approve_revision": "decided the KPI revision",
    "schedule_interview": "scheduled the interview",
    "record_interview": "recorded the interview",
    "sign_off_interview": "signed off the appraisal",
    "decide_dispute": "decided the dispute",
    "calibrate_rating": "calibrated the rating",
    "head_approval": "decided the incentive",
    "finance_approval": "decided the incentive",
    "revise_incentive": "revised the returned incentive",
}
# Plain English labels: a filed report reads the same whoever draws it.
BAND_LABELS = {"outstanding": "Outstanding", "very_good": "Very good", "good": "Good",
               "average": "Average", "below_average": "Below average"}
DECISIONS = {"agree": "agreed", "return": "returned", "approve": "approved",
             "reject": "rejected", "sign": "signed", "dispute": "disputed",
             "uphold": "upheld the rating", "revise": "changed the rating band",
             "resubmit": "resubmitted", "withdraw": "withdrew"}
# The Arabic script's blocks (Urdu letters among them), as a regular-expression class body.
ARABIC_LETTERS = "\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff"
_ARABIC_SCRIPT = re.compile(f"[{ARABIC_LETTERS}]")


# --- the report's content -----------------------------------------------------------------------


@dataclass
class Facts:
    """Label/value pairs, printed as two columns."""

    rows: list[tuple[str, str]]
    kind: str = "facts"


@dataclass
class Paragraph:
    text: str
    muted: bool = False  # a note: what has not happened yet, or how a figure is computed
    kind: str = "paragraph"


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]
    widths: list[float]  # relative column widths
    numeric: list[bool] = field(default_factory=list)  # right-aligned columns
    kind: str = "table"


@dataclass
class Section:
    title: str
    blocks: list[Facts | Paragraph | Table]


@dataclass
class AppraisalReport:
    case_id: int
    title: str
    subtitle: str
    running_head: str
    sections: list[Section]
    as_of_event_seq: int | None
    as_of_event_hash: str | None
    times: LocalTime

    def digest(self) -> str:
        """SHA-256 of what the report says (not of the PDF bytes, which carry the time they
        were drawn): two reports of the same case state have the same digest."""
        content = {"case_id": self.case_id, "title": self.title, "subtitle": self.subtitle,
                   "sections": [asdict(s) for s in self.sections],
                   "as_of_event_seq": self.as_of_event_seq}
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":"),
                               ensure_ascii=True)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def text(self) -> str:
        """Everything the report says, as plain text (for searching and tests)."""
        parts = [self.title, self.subtitle]
        for section in self.sections:
            parts.append(section.title)
            for block in section.blocks:
                if isinstance(block, Facts):
                    parts.extend(f"{label}: {value}" for label, value in block.rows)
                elif isinstance(block, Paragraph):
                    parts.append(block.text)
                else:
                    parts.append(" | ".join(block.headers))
                    parts.extend(" | ".join(row) for row in block.rows)
        return "\n".join(parts)


def block_texts(block: Facts | Paragraph | Table) -> list[str]:
    """Every string a block draws."""
    if isinstance(block, Facts):
        return [text for row in block.rows for text in row]
    if isinstance(block, Paragraph):
        return [block.text]
    return [*block.headers, *(text for row in block.rows for text in row)]


def has_arabic_script(text: str) -> bool:
    """Urdu names and comments are drawn with a font that has the Arabic script's letters."""
    return bool(_ARABIC_SCRIPT.search(text))


# --- formatting ---------------------------------------------------------------------------------


def number(value: Any) -> str:
    """12000.0 -> "12,000"; 95.5 -> "95.5"; anything else as text."""
    if isinstance(value, bool) or value is None:
        return "—" if value is None else str(value)
    if isinstance(value, int | float):
        return format(value, ",.10g")
    return str(value)


def money(value: Any) -> str:
    return f"PKR {float(value or 0):,.0f}"


def band_label(band: str | None) -> str:
    return BAND_LABELS.get(band or "", band or "—")


class LocalTime:
    """Times in the cycle's local time (Pakistan Standard Time unless the cycle says
    otherwise), labelled with their offset so a printed copy is unambiguous."""

    def __init__(self, utc_offset: str) -> None:
        sign = -1 if utc_offset.startswith("-") else 1
        hours, _, minutes = utc_offset.lstrip("+-").partition(":")
        self.zone = timezone(sign * timedelta(hours=int(hours or 0), minutes=int(minutes or 0)))
        self.label = "PKT" if utc_offset == "+05:00" else f"UTC{utc_offset}"

    def moment(self, value: datetime | None) -> str:
        if value is None:
            return "—"
        if value.tzinfo is None:  # SQLite returns naive values; they are stored in UTC
            value = value.replace(tzinfo=UTC)
        return value.astimezone(self.zone).strftime(f"%d %b %Y %H:%M {self.label}")


def iso_day(value: str | None) -> str:
    if not value:
        return "—"
    try:
        return date.fromisoformat(str(value)[:10]).strftime("%d %b %Y")
    except ValueError:
        return str(value)


def month_label(value: str) -> str:
    try:
        return date.fromisoformat(f"{value}-01").strftime("%b %Y")
    except ValueError:
        return value


def person(user: User | None) -> str:
    return f"{user.full_name} ({user.username})" if user else "—"


def _holder(task: HumanTask) -> str:
    if task.assignee is not None:
        return person(task.assignee)
    return f"any {LANE_ROLES.get(task.lane or '', task.candidate_role or 'officer')}"


def _employee_line(employee: Any) -> str:
    if employee is None:
        return "Not assigned in the org data"
    line = f"{employee.full_name} ({employee.employee_number})"
    return f"{line}, {employee.designation}" if employee.designation else line


# --- reading the case ---------------------------------------------------------------------------


def _utc(value: datetime) -> datetime:
    """Stored times are UTC; SQLite hands them back without a zone, while rows written in this
    session still hold the aware values they were given."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class CaseRecord:
    """The case's completed task rows, read once: who signed what, and when."""

    def __init__(self, case: Case, clock_format: LocalTime) -> None:
        self.completed = sorted(
            (t for t in case.tasks if t.status == TaskStatus.COMPLETED and t.completed_at),
            key=lambda t: (_utc(t.completed_at), t.id))
        self.times = clock_format

    def all(self, *names: str) -> list[HumanTask]:
        return [t for t in self.completed if t.task_name in names]

    def last(self, *names: str) -> HumanTask | None:
        found = self.all(*names)
        return found[-1] if found else None

    @staticmethod
    def who(task: HumanTask) -> str:
        """Who completed the task, and whom they acted for (a delegate, an absence's
        stand-in, an escalation)."""
        who = person(task.completed_by)
        if task.owner_id and task.owner_id != task.completed_by_id and task.owner is not None:
            who += f" for {person(task.owner)}"
        return who

    def signed(self, task: HumanTask | None) -> str:
        """ "Imran Khattak (ro1) on 10 Dec 2026 11:00 PKT"."""
        if task is None:
            return "—"
        return f"{self.who(task)} on {self.times.moment(task.completed_at)}"


def _stages_of(case: Case) -> set[str]:
    parsed = process_models.parsed_version(case.process_version)
    stages = {parsed.process_id, *parsed.subprocess_specs}
    stages |= {t.get("id") or "" for t in parsed.user_tasks}
    return {s for s in STAGES if s in stages}


def _case_data(case: Case) -> dict[str, Any]:
    runtime = WorkflowRuntime.load(process_models.parsed_version(case.process_version),
                                   case.workflow_state, case.serializer_version)
    return runtime.current_data()


def build_report(case: Case, data: dict[str, Any] | None = None) -> AppraisalReport:
    """The report's sections for the case as it stands now."""
    data = data if data is not None else _case_data(case)
    cycle = data.get("cycle") or {}
    times = LocalTime(str(cycle.get("utc_offset") or appraisal.DEFAULT_UTC_OFFSET))
    record = CaseRecord(case, times)
    stages = _stages_of(case)
    subject = case.subject
    # The case's state is its last event other than a report's own generation, so drawing the
    # report again for an unchanged case gives the same digest.
    timeline = [e for e in audit.case_timeline(case.id)
                if e.event_type != AuditEventType.REPORT_GENERATED]
    last_event = timeline[-1] if timeline else None
    sections = [_header(case, data, cycle, times)]
    if "goal_setting" in stages:
        sections.append(_scorecard(data, record))
    if "monthly_actuals" in stages:
        sections.append(_actuals(data, record, cycle))
    if "mid_year_review" in stages:
        sections.append(_mid_year(data, record, cycle))
    if "appraisal_interview" in stages:
        sections.append(_interview(data, record, cycle))
        sections.append(_score(data, record, "calibrate_rating" in stages))
        sections.append(_sign_off(data, record))
    if "incentive_approval" in stages:
        sections.append(_incentive(data, record))
    sections.append(_signatures(record))
    process_name = case.process_version.process_model.name
    cycle_name = cycle.get("name") or cycle.get("id") or ""
    return AppraisalReport(
        case_id=case.id,
        title="Performance appraisal report",
        subtitle=f"{subject.full_name} · {cycle_name} · {process_name} "
                 f"(version {case.process_version.version}) · case #{case.id}",
        running_head=f"Appraisal report — {subject.full_name} ({subject.employee_number})"
                     f" — {cycle_name} — case #{case.id}",
        sections=sections,
        as_of_event_seq=last_event.seq if last_event else None,
        as_of_event_hash=last_event.hash if last_event else None,
        times=times,
    )


def _header(case: Case, data: dict[str, Any], cycle: dict[str, Any],
            times: LocalTime) -> Section:
    subject = case.subject
    department = appraisal.department_of(subject)
    rows = [
        ("Department", department.name),
        ("Unit", subject.org_unit.name),
        ("Cycle", f"{cycle.get('name') or cycle.get('id') or '—'}: "
                  f"{iso_day(cycle.get('starts_on'))} to {iso_day(cycle.get('ends_on'))}"),
        ("Employee", subject.full_name),
        ("Employee number", subject.employee_number),
        ("Designation", subject.designation or "—"),
        ("Grade", f"BPS-{subject.grade}" if subject.grade is not None else "—"),
        ("Reporting officer", _employee_line(subject.reporting_officer)),
        ("Countersigning officer", _employee_line(subject.countersigning_officer)),
        ("Case", f"#{case.id}, {case.process_version.process_model.name} version "
                 f"{case.process_version.version}, started {times.moment(case.started_at)}"),
    ]
    if case.completed_at:
        rows.append(("Status", f"Completed on {times.moment(case.completed_at)}"))
    else:
        waiting = [f"{t.title} ({_holder(t)})" for t in case.tasks
                   if t.status == TaskStatus.OPEN]
        rows.append(("Status", "Running; waiting for " + "; ".join(waiting) if waiting
                     else "Running; no step is open (waiting for a date in the cycle)"))
    return Section("Employee and cycle", [Facts(rows)])


def _scorecard_table(kpis: list[dict[str, Any]]) -> Table:
    return Table(
        ["KPI", "Type", "Unit", "Weight", "Target", "Actual entered by"],
        [[k["name"], str(k.get("kind", "")).capitalize(), str(k.get("unit", "")),
          f"{number(k.get('weight'))}%", number(k.get("target")),
          "Employee, confirmed by officer" if k.get("reporter") == "employee"
          else "Reporting officer"] for k in kpis],
        [34, 11, 11, 9, 12, 23], [False, False, False, True, True, False])


def _scorecard(data: dict[str, Any], record: CaseRecord) -> Section:
    kpis = data.get("scorecard") or []
    if not kpis:
        return Section("Scorecard", [Paragraph(
            "Scorecard not yet designed: the reporting officer designs it at goal setting.",
            muted=True)])
    blocks: list[Facts | Paragraph | Table] = []
    steps = [("Designed by", record.last("design_scorecard"))]
    review = record.last("review_scorecard")
    countersign = record.last("countersign_scorecard", "countersign_scorecard_escalated")
    latest = record.last("design_scorecard", "review_scorecard", "countersign_scorecard",
                         "countersign_scorecard_escalated")
    submitted = (latest.submitted_data or {}) if latest is not None else {}
    if data.get("countersign_decision") == "approve":
        steps += [("Agreed by the employee", review), ("Countersigned by", countersign)]
    elif latest is not None and latest.task_name == "review_scorecard" and (
            submitted.get("employee_decision") == "agree"):
        steps += [("Agreed by the employee", review)]
        blocks.append(Paragraph("Not yet countersigned: awaiting the countersigning officer.",
                                muted=True))
    elif latest is not None and latest.task_name != "design_scorecard":
        who = ("the employee" if latest.task_name == "review_scorecard"
               else "the countersigning officer")
        comment = (submitted.get("employee_comment") or submitted.get("countersign_comment")
                   or "")
        blocks.append(Paragraph(f"Not yet agreed: sent back by {who} on "
                                f"{record.times.moment(latest.completed_at)} (“{comment}”); "
                                "awaiting the reporting officer's redesign.", muted=True))
    else:
        blocks.append(Paragraph("Not yet agreed: awaiting the employee's review of the "
                                "scorecard.", muted=True))
    facts = Facts([(label, record.signed(task)) for label, task in steps if task is not None])
    original = data.get("original_scorecard")
    if original:
        blocks += [Paragraph("Original scorecard, as agreed at goal setting:"),
                   _scorecard_table(original),
                   Paragraph("Revised scorecard after the mid-year review (in force):"),
                   _scorecard_table(kpis)]
    else:
        blocks.append(_scorecard_table(kpis))
    revisions = data.get("scorecard_revisions") or []
    decisions = record.all("approve_revision")
    for index, revision in enumerate(revisions):
        decided = decisions[index] if index < len(decisions) else None
        text = (f"Revision proposed in {month_label(revision.get('month', ''))}, "
                f"{revision.get('status', '')}. Reason: “{revision.get('reason', '')}”.")
        if revision.get("comment"):
            text += f" Countersigning officer: “{revision['comment']}”."
        if decided is not None:
            text += f" Decided by {record.signed(decided)}."
        blocks.append(Paragraph(text))
    if facts.rows:
        blocks.insert(0, facts)
    return Section("Scorecard", blocks)


def _actuals(data: dict[str, Any], record: CaseRecord, cycle: dict[str, Any]) -> Section:
    months = [m for m in data.get("actuals") or [] if isinstance(m, dict)]
    if not months:
        first = cycle.get("starts_on", "")[:7]
        return Section("Monthly actuals", [Paragraph(
            "No monthly actuals recorded yet"
            + (f": {month_label(first)}'s fall due at the start of the next month."
               if first else "."), muted=True)])
    names: list[str] = [k["name"] for k in data.get("scorecard") or []]
    for kpi in data.get("original_scorecard") or []:
        if kpi["name"] not in names:
            names.append(kpi["name"])
    targets = {k["name"]: k.get("target") for k in data.get("scorecard") or []}
    confirmations = record.all("confirm_actuals")
    notes = []
    rows = [["Target", *[number(targets.get(n)) for n in names], ""]]
    for index, month in enumerate(months):
        values = {v["kpi"]: v for v in month.get("values", [])}
        cells = []
        for name in names:
            value = values.get(name)
            if value is None:
                cells.append("—")
                continue
            corrected = ("employee_value" in value
                         and value["employee_value"] != value["value"])
            cells.append(number(value["value"]) + (" *" if corrected else ""))
            if corrected or value.get("note"):
                note = f"{month_label(month['month'])}, {name}: "
                if corrected:
                    note += (f"the employee reported {number(value['employee_value'])}, "
                             f"the officer recorded {number(value['value'])}")
                if value.get("note"):
                    note += ("; " if corrected else "") + f"“{value['note']}”"
                notes.append(note)
        confirmed = confirmations[index] if index < len(confirmations) else None
        rows.append([month_label(month["month"]), *cells,
                     record.times.moment(confirmed.completed_at)[:11] if confirmed else "—"])
    width = max(8.0, 64.0 / max(len(names), 1))
    table = Table(["Month", *names, "Recorded"], rows, [14, *[width] * len(names), 14],
                  [False, *[True] * len(names), False])
    expected = _expected_months(cycle)
    blocks: list[Facts | Paragraph | Table] = [table]
    if expected:
        blocks.append(Paragraph(f"{len(months)} of {expected} months recorded. Targets are "
                                "those of the scorecard in force.", muted=True))
    if notes:
        blocks.append(Paragraph("* corrected by the reporting officer. Notes: "
                                + "; ".join(notes) + ".", muted=True))
    return Section("Monthly actuals", blocks)


def _expected_months(cycle: dict[str, Any]) -> int:
    """Months reported in the cycle: from its start to the month before the interview window."""
    start, opens = str(cycle.get("starts_on", ""))[:7], str(cycle.get("interview_opens_on", ""))[:7]
    try:
        return ((int(opens[:4]) - int(start[:4])) * 12 + int(opens[5:7]) - int(start[5:7]))
    except ValueError:
        return 0


def _mid_year(data: dict[str, Any], record: CaseRecord, cycle: dict[str, Any]) -> Section:
    if not data.get("midyear_progress"):
        return Section("Mid-year review", [Paragraph(
            f"Mid-year review not yet held: it opens on {iso_day(cycle.get('mid_year_on'))}.",
            muted=True)])
    rows = [("Employee's self-assessment", data["midyear_progress"])]
    if data.get("midyear_support_needed"):
        rows.append(("Support needed", data["midyear_support_needed"]))
    rows.append(("Self-assessment by", record.signed(record.last("self_assessment"))))
    if data.get("midyear_officer_comment"):
        rows.append(("Reporting officer's review", data["midyear_officer_comment"]))
        rows.append(("Reviewed by", record.signed(record.last("officer_review"))))
        rows.append(("KPIs revised", "Yes: see the scorecard" if data.get("revise_kpis")
                     else "No"))
    else:
        rows.append(("Reporting officer's review", "Not yet written."))
    return Section("Mid-year review", [Facts(rows)])


def _interview(data: dict[str, Any], record: CaseRecord, cycle: dict[str, Any]) -> Section:
    if not data.get("interview_date"):
        return Section("Appraisal interview", [Paragraph(
            "Interview not yet scheduled: the interview window is "
            f"{iso_day(cycle.get('interview_opens_on'))} to "
            f"{iso_day(cycle.get('interview_closes_on'))}.", muted=True)])
    schedule = record.last("schedule_interview")
    rows = [("Scheduled for", f"{iso_day(data['interview_date'])} "
                              f"{data.get('interview_time', '')} {record.times.label}"),
            ("Place", data.get("interview_place") or "—"),
            ("Scheduled by", record.signed(schedule))]
    recorded = record.last("record_interview")
    held = (data.get("interview_held") == "yes" and recorded is not None
            and (schedule is None or _utc(recorded.completed_at) >= _utc(schedule.completed_at)))
    blocks: list[Facts | Paragraph | Table] = []
    if held:
        rows += [("Held", "Yes"), ("Discussion", data.get("interview_discussion") or "—"),
                 ("Recorded by", record.signed(recorded))]
        blocks.append(Facts(rows))
        blocks.append(Table(
            ["KPI", "Actual for the year", "Assessment"],
            [[row["kpi"], number(row.get("actual")), row.get("comment") or "—"]
             for row in data.get("interview_assessment") or []],
            [40, 18, 42], [False, True, False]))
    else:
        rows.append(("Held", "Interview not yet held."))
        blocks.append(Facts(rows))
    for task in record.all("record_interview"):
        submitted = task.submitted_data or {}
        if submitted.get("interview_held") == "no":
            blocks.append(Paragraph(
                f"An earlier interview was not held (recorded by {record.signed(task)}): "
                f"“{submitted.get('interview_not_held_reason', '')}”.", muted=True))
    return Section("Appraisal interview", blocks)


def _score(data: dict[str, Any], record: CaseRecord, calibrated_in_process: bool) -> Section:
    breakdown = data.get("score_breakdown") or []
    if not breakdown or data.get("score") is None:
        return Section("Final score and rating", [Paragraph(
            "Not yet computed: the score is computed when the interview is recorded.",
            muted=True)])
    table = Table(
        ["KPI", "Type", "Target", "Actual", "Achievement (capped)", "Weight", "Points"],
        [[r["kpi"], str(r.get("kind", "")).capitalize(),
          f"{number(r.get('target'))} {r.get('unit', '')}".strip(), number(r.get("actual")),
          f"{number(r.get('achievement'))}%", f"{number(r.get('weight'))}%",
          number(r.get("contribution"))] for r in breakdown]
        + [["Score (0–100)", "", "", "", "", "", number(data["score"])]],
        [30, 11, 15, 11, 15, 9, 9], [False, False, True, True, True, True, True])
    blocks: list[Facts | Paragraph | Table] = [
        table,
        Paragraph("Formula: score = Σ weight × min(actual ÷ target, 100%), one decimal. "
                  "Each KPI's achievement is capped at 100% (a zero target counts as "
                  "achieved), so over-achieving one KPI cannot make up for another.",
                  muted=True)]
    from_score = data.get("rating_band_before_dispute") or data.get("rating_band")
    rows = [("Band from the score", f"{band_label(from_score)} (rating_band.dmn: 90+ "
             "outstanding, 75+ very good, 60+ good, 40+ average, below that below average)")]
    if data.get("dispute_outcome") == "revise":
        rows.append(("Changed on dispute to", band_label(data.get("rating_band"))))
    if calibrated_in_process:
        calibration = record.last("calibrate_rating")
        if data.get("calibrated_band") and calibration is not None:
            before, after = data.get("band_before_calibration"), data.get("calibrated_band")
            if before != after:
                rows.append(("Calibration", f"Moved from {band_label(before)} to "
                             f"{band_label(after)} by {record.signed(calibration)}. "
                             f"Reason: “{data.get('calibration_reason', '')}”"))
            else:
                rows.append(("Calibration", f"Kept at {band_label(after)} by "
                             f"{record.signed(calibration)}"))
        else:
            rows.append(("Calibration", "Not yet calibrated: HR calibrates the department's "
                         "ratings together."))
    final = data.get("final_band") if calibrated_in_process else data.get("rating_band")
    rows.append(("Final rating", band_label(final) if final and (
        data.get("rating_finalised") or not calibrated_in_process)
        else "Not yet final: it is final after calibration."))
    blocks.append(Facts(rows))
    return Section("Final score and rating", blocks)


def _sign_off(data: dict[str, Any], record: CaseRecord) -> Section:
    title = "Employee's sign-off and countersignature"
    decision = data.get("sign_off_decision")
    if not decision:
        when = ("after the interview is recorded" if not data.get("score_breakdown")
                else "now: awaiting the employee")
        return Section(title, [Paragraph(f"Not yet signed by the employee: the employee signs "
                                         f"or disputes the appraisal {when}.", muted=True)])
    sign_off = record.last("sign_off_interview")
    rows = [("Employee's decision", "Signed the appraisal" if decision == "sign"
             else "Disputed the assessment"),
            ("Employee's comments", data.get("employee_comments") or "None")]
    if decision == "dispute":
        rows.append(("Reasons for the dispute", data.get("dispute_reasons") or "—"))
    rows.append(("Employee's signature", record.signed(sign_off)))
    if decision == "dispute":
        outcome = data.get("dispute_outcome")
        if outcome:
            verdict = ("Upheld the rating" if outcome == "uphold" else
                       f"Changed the rating band to {band_label(data.get('revised_band'))}")
            rows += [("Countersigning officer's decision", verdict),
                     ("Why", data.get("dispute_decision_reason") or "—"),
                     ("Countersignature", record.signed(record.last("decide_dispute")))]
        else:
            rows.append(("Countersigning officer's decision",
                         "Not yet decided: awaiting the countersigning officer."))
    else:
        countersign = record.last("countersign_scorecard", "countersign_scorecard_escalated")
        rows.append(("Countersignature", "No decision needed: the employee signed without "
                     "dispute. The countersigning officer countersigned the scorecard: "
                     f"{record.signed(countersign)}." if countersign else
                     "No decision needed: the employee signed without dispute."))
    return Section(title, [Facts(rows)])


def _incentive(data: dict[str, Any], record: CaseRecord) -> Section:
    status = data.get("incentive_status")
    if not status:
        return Section("Incentive", [Paragraph(
            "Incentive not yet computed: it follows the final rating.", muted=True)])
    threshold = data.get("incentive_threshold_amount", appraisal.DEFAULT_THRESHOLD_AMOUNT)
    amount = data.get("incentive_amount", 0)
    chain = (f"Department head, then finance (above {money(threshold)})"
             if amount > threshold else f"Department head (up to {money(threshold)})")
    status_text = {"approved": "Approved", "proposed": "Awaiting approval",
                   "withdrawn": "Withdrawn by HR", "none": "No incentive for this rating"}
    rows = [
        ("Share (incentive.dmn)",
         f"{number(data.get('incentive_share_percent', 0))}% of base pay"),
        ("Cycle cap (for everyone)", f"{number(data.get('incentive_cap_percent', 0))}%"),
        ("Base pay", money((data.get("subject") or {}).get("base_pay"))),
        ("Computed amount", money(data.get("incentive_computed_amount", amount))),
        ("Incentive", money(amount)),
        ("Approval chain", chain),
        ("Status", status_text.get(status, status)),
    ]
    blocks: list[Facts | Paragraph | Table] = [Facts(rows)]
    steps = record.all("head_approval", "finance_approval", "revise_incentive")
    if steps:
        table_rows = []
        for task in steps:
            submitted = task.submitted_data or {}
            decision = (submitted.get("head_decision") or submitted.get("finance_decision")
                        or submitted.get("incentive_action") or "")
            note = (submitted.get("head_comment") or submitted.get("finance_comment")
                    or submitted.get("incentive_revision_note") or "")
            table_rows.append([task.title, person(task.completed_by),
                               DECISIONS.get(decision, decision),
                               record.times.moment(task.completed_at), note or "—"])
        blocks.append(Table(["Step", "By", "Decision", "Date", "Comment"], table_rows,
                            [26, 22, 13, 19, 20]))
    elif status == "proposed":
        blocks.append(Paragraph("Not yet approved: awaiting the department head.", muted=True))
    return Section("Incentive", blocks)


def _signatures(record: CaseRecord) -> Section:
    rows = []
    for task in record.completed:
        if task.task_name not in SIGNATURE_TASKS:
            continue
        submitted = task.submitted_data or {}
        decision = next((str(v) for k, v in submitted.items()
                         if k.endswith(("_decision", "_outcome", "_action")) and v), "")
        action = SIGNATURE_TASKS[task.task_name]
        if decision in DECISIONS:
            action += f": {DECISIONS[decision]}"
        elif submitted.get("calibrated_band"):
            action += f": {band_label(submitted['calibrated_band'])}"
        elif submitted.get("interview_held") == "no":
            action += ": not held"
        rows.append([LANE_ROLES.get(task.lane or "", task.lane or "—"), record.who(task),
                     action, record.times.moment(task.completed_at)])
    if not rows:
        return Section("Signatures", [Paragraph("Nobody has signed anything in this case yet.",
                                                muted=True)])
    return Section("Signatures", [Table(["Role", "Name", "Act", "Date"], rows,
                                        [19, 27, 31, 23])])


# --- generating it ------------------------------------------------------------------------------


@dataclass(frozen=True)
class GeneratedReport:
    content: bytes
    filename: str
    digest: str
    audit_seq: int

    def as_response(self) -> Response:
        """The PDF for the browser (shown inline, to print or save) and for the API alike;
        never cached, since it is about one person's appraisal."""
        return Response(self.content, mimetype="application/pdf", headers={
            "Content-Disposition": f'inline; filename="{self.filename}"',
            "Cache-Control": "no-store",
            "X-Report-SHA256": self.digest,
        })


def generate(user: User, case_id: int) -> GeneratedReport:
    """The PDF of a case's appraisal report, for someone who may see the case (else
    PermissionDenied / NotFound). Its generation is an audit event carrying the digest,
    committed before the PDF is drawn so that every page can name the event."""
    from app.services import report_pdf  # fpdf2 loads only when a report is drawn

    case = cases.get_case_for(user, case_id)
    report = build_report(case)
    digest = report.digest()
    with unit_of_work():
        event = audit.record(AuditEventType.REPORT_GENERATED, actor=user, case=case, details={
            "report": "appraisal", "sha256": digest, "as_of_event": report.as_of_event_seq})
    generated_at = utcnow()
    content = report_pdf.render(report, digest=digest, audit_seq=event.seq,
                                generated_at=generated_at, generated_by=person(user))
    filename = f"appraisal-case-{case.id}-{_safe(case.subject.employee_number)}.pdf"
    return GeneratedReport(content, filename, digest, event.seq)


def _safe(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", value).strip("-") or "employee"

