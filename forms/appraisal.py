"""Forms of the year's processes after goal setting: monthly actuals, the mid-year review, the
appraisal interview and its sign-off, calibration and incentive approval.

Each form checks what it can see on its own (a reason when something is sent back or changed,
a date and place for an interview...); rules that need the case or other cases (the interview
window, the department's budget, KPI rows matching the scorecard) are checked by
`app.services.task_rules` before the engine moves on.
"""

from __future__ import annotations

from typing import Any, ClassVar

from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError

from forms.base import TaskForm, _, _l
from forms.scorecard import ScorecardDesignForm

# The rating bands, best first (the same keys as the cycles' guideline distribution).
RATING_BANDS = [
    SelectChoice("outstanding", "Outstanding"),
    SelectChoice("very_good", "Very good"),
    SelectChoice("good", "Good"),
    SelectChoice("average", "Average"),
    SelectChoice("below_average", "Below average"),
]
BAND_LABELS = {choice.value: choice.label for choice in RATING_BANDS}
# The same bands as the forms offer them, in the reader's language.
BAND_CHOICES = [
    SelectChoice("outstanding", _l("Outstanding")),
    SelectChoice("very_good", _l("Very good")),
    SelectChoice("good", _l("Good")),
    SelectChoice("average", _l("Average")),
    SelectChoice("below_average", _l("Below average")),
]


def _text(value: str | None) -> str:
    return (value or "").strip()


def _required_when(condition: bool, field: Any, message: str) -> None:
    if condition and not _text(field.data):
        raise ValidationError(message)


# --- monthly actuals ----------------------------------------------------------------------------


class ActualRowForm(Form):
    kpi = HiddenField(_l("KPI"), [InputRequired()])
    value = DecimalField(_l("Actual"), [InputRequired(message=_l("Enter the month's actual.")),
                                    NumberRange(min=0)], places=None)
    note = StringField(_l("Note"), [Length(max=500)])


class ActualsReportForm(TaskForm):
    """The employee's own figures for the KPIs they report; the officer confirms each."""

    key = "actuals_report"
    template = "tasks/forms/actuals.html"
    data_keys = ("employee_actuals",)

    rows = FieldList(FormField(ActualRowForm), label=_l("Actuals"), min_entries=0)

    @classmethod
    def initial_data(cls, case_data: dict[str, Any]) -> dict[str, Any]:
        return {"rows": [{"kpi": k["name"]} for k in case_data.get("scorecard", [])
                         if k.get("reporter") == "employee"]}

    def validate_rows(self, field: FieldList) -> None:
        if not field.entries:
            raise ValidationError(_("Enter an actual for each KPI you report."))

    def to_task_data(self) -> dict[str, Any]:
        return {"employee_actuals": [
            {"kpi": _text(e.form.kpi.data), "value": float(e.form.value.data),
             "note": _text(e.form.note.data)} for e in self.rows.entries]}


class ConfirmRowForm(ActualRowForm):
    reported_by = HiddenField(_l("Reported by"))
    employee_value = HiddenField(_l("Employee's figure"))


class ActualsConfirmForm(TaskForm):
    """The officer's record of the month: every KPI, with the employee's figures confirmed or
    corrected (a correction needs a note)."""

    key = "actuals_confirm"
    template = "tasks/forms/actuals.html"
    data_keys = ("month_values",)

    rows = FieldList(FormField(ConfirmRowForm), label=_l("Actuals"), min_entries=0)

    @classmethod
    def initial_data(cls, case_data: dict[str, Any]) -> dict[str, Any]:
        reported = {r["kpi"]: r for r in case_data.get("employee_actuals") or []}
        rows = []
        for kpi in case_data.get("scorecard", []):
            row: dict[str, Any] = {"kpi": kpi["name"], "reported_by": kpi.get("reporter",
                                                                              "officer")}
            if kpi["name"] in reported and row["reported_by"] == "employee":
                row["value"] = reported[kpi["name"]]["value"]
                row["employee_value"] = str(reported[kpi["name"]]["value"])
            rows.append(row)
        return {"rows": rows}

    def validate_rows(self, field: FieldList) -> None:
        if not field.entries:
            raise ValidationError(_("Enter an actual for every KPI."))
        for entry in field.entries:
            row = entry.form
            if row.errors or not _text(row.employee_value.data):
                continue
            try:
                employee_value = float(row.employee_value.data)
            except ValueError:
                continue
            if float(row.value.data) != employee_value and not _text(row.note.data):
                raise ValidationError(_(
                    "You changed the employee's figure for “%(kpi)s”: say why in its note.",
                    kpi=row.kpi.data))

    def to_task_data(self) -> dict[str, Any]:
        values = []
        for entry in self.rows.entries:
            row = entry.form
            item: dict[str, Any] = {"kpi": _text(row.kpi.data), "value": float(row.value.data),
                                    "note": _text(row.note.data),
                                    "reported_by": row.reported_by.data or "officer"}
            if _text(row.employee_value.data):
                item["employee_value"] = float(row.employee_value.data)
                item["confirmed_by_officer"] = True
            values.append(item)
        return {"month_values": values}


# --- mid-year review ----------------------------------------------------------------------------


class MidYearSelfAssessmentForm(TaskForm):
    key = "midyear_self_assessment"
    data_keys = ("midyear_progress", "midyear_support_needed")

    progress = TextAreaField(_l("Your progress against each KPI so far"),
                             [InputRequired(message=_l("Describe your progress.")),
                              Length(max=8000)])
    support_needed = TextAreaField(_l("Support you need for the rest of the year"),
                                   [Length(max=4000)])

    def to_task_data(self) -> dict[str, Any]:
        return {"midyear_progress": _text(self.progress.data),
                "midyear_support_needed": _text(self.support_needed.data)}


class MidYearReviewForm(ScorecardDesignForm):
    """The officer's review; proposing revised KPIs needs a written reason (the countersigning
    officer approves it), and the revised scorecard meets the same doctrine as the original."""

    key = "midyear_review"
    template = "tasks/forms/midyear_review.html"
    data_keys = ("midyear_officer_comment", "revise_kpis", "proposed_scorecard",
                 "revision_reason")

    comment = TextAreaField(_l("Your review of the employee's progress"),
                            [InputRequired(message=_l("Write your review.")), Length(max=8000)])
    revise_kpis = BooleanField(_l("Propose revised KPIs"))
    revision_reason = TextAreaField(_l("Why the KPIs must change"), [Length(max=4000)])

    def validate_revision_reason(self, field: TextAreaField) -> None:
        _required_when(bool(self.revise_kpis.data), field,
                       _("KPIs may be revised only with a written reason."))

    def validate_kpis(self, field: FieldList) -> None:
        if self.revise_kpis.data:
            super().validate_kpis(field)

    def validate(self, extra_validators: Any = None) -> bool:
        if not self.revise_kpis.data:  # the KPI rows are only the current scorecard on show
            self.kpis.entries = []
        return super().validate(extra_validators)

    def to_task_data(self) -> dict[str, Any]:
        revise = bool(self.revise_kpis.data)
        return {
            "midyear_officer_comment": _text(self.comment.data),
            "revise_kpis": revise,
            "proposed_scorecard": super().to_task_data()["scorecard"] if revise else None,
            "revision_reason": _text(self.revision_reason.data) if revise else "",
        }


class RevisionApprovalForm(TaskForm):
    key = "revision_approval"
    template = "tasks/forms/revision_approval.html"
    data_keys = ("revision_decision", "revision_comment")

    decision = RadioField(_l("Your decision"), choices=[
        SelectChoice("approve", _l("Approve the revised KPIs")),
        SelectChoice("reject", _l("Reject: keep the original scorecard")),
    ], validators=[InputRequired(message=_l("Choose whether you approve."))])
    comment = TextAreaField(_l("Comment"), [Length(max=4000)])

    def validate_comment(self, field: TextAreaField) -> None:
        _required_when(self.decision.data == "reject", field,
                       _("Say why you reject the revision: a comment is required."))

    def to_task_data(self) -> dict[str, Any]:
        return {"revision_decision": self.decision.data,
                "revision_comment": _text(self.comment.data)}


# --- appraisal interview ------------------------------------------------------------------------


class InterviewScheduleForm(TaskForm):
    key = "interview_schedule"
    data_keys = ("interview_date", "interview_time", "interview_place")

    date = DateField(_l("Date"), [InputRequired(message=_l("Choose the date."))])
    time = TimeField(_l("Time (Pakistan time)"), [InputRequired(message=_l("Choose the time."))])
    place = StringField(_l("Place"), [InputRequired(message=_l("Say where the interview is held.")),
                                  Length(max=200)])

    def to_task_data(self) -> dict[str, Any]:
        return {"interview_date": self.date.data.isoformat(),
                "interview_time": self.time.data.strftime("%H:%M"),
                "interview_place": _text(self.place.data)}


class AssessmentRowForm(Form):
    kpi = HiddenField(_l("KPI"), [InputRequired()])
    actual = DecimalField(_l("The year's actual"), [InputRequired(message=_l("Enter the actual.")),
                                                NumberRange(min=0)], places=None)
    comment = StringField(_l("Assessment"), [Length(max=1000)])


class InterviewRecordForm(TaskForm):
    """What was discussed and the per-KPI assessment; the score is computed from it by the
    diagram's script (see README, "The score")."""

    key = "interview_record"
    template = "tasks/forms/interview_record.html"
    data_keys = ("interview_held", "interview_discussion", "interview_assessment",
                 "interview_not_held_reason")

    held = RadioField(_l("Was the interview held?"), choices=[
        SelectChoice("yes", _l("Yes, the interview was held")),
        SelectChoice("no", _l("No: schedule it again")),
    ], validators=[InputRequired(message=_l("Say whether the interview was held."))])
    discussion = TextAreaField(_l("What was discussed"), [Length(max=8000)])
    not_held_reason = TextAreaField(_l("Why it was not held"), [Length(max=2000)])
    assessment = FieldList(FormField(AssessmentRowForm), label=_l("Assessment"), min_entries=0)

    @classmethod
    def initial_data(cls, case_data: dict[str, Any]) -> dict[str, Any]:
        latest = {}
        for month in case_data.get("actuals") or []:
            for value in month.get("values", []):
                latest[value["kpi"]] = value["value"]
        return {"assessment": [{"kpi": k["name"], "actual": latest.get(k["name"])}
                               for k in case_data.get("scorecard", [])]}

    def validate_discussion(self, field: TextAreaField) -> None:
        _required_when(self.held.data == "yes", field,
                       _("Record what was discussed: no rating without a recorded interview."))

    def validate_not_held_reason(self, field: TextAreaField) -> None:
        _required_when(self.held.data == "no", field, _("Say why the interview was not held."))

    def validate(self, extra_validators: Any = None) -> bool:
        if self.held.data == "no":  # nothing to assess
            self.assessment.entries = []
        return super().validate(extra_validators)

    def validate_assessment(self, field: FieldList) -> None:
        if self.held.data == "yes" and not field.entries:
            raise ValidationError(_("Assess every KPI."))

    def to_task_data(self) -> dict[str, Any]:
        held = self.held.data == "yes"
        return {
            "interview_held": self.held.data,
            "interview_discussion": _text(self.discussion.data) if held else "",
            "interview_not_held_reason": "" if held else _text(self.not_held_reason.data),
            "interview_assessment": [
                {"kpi": _text(e.form.kpi.data), "actual": float(e.form.actual.data),
                 "comment": _text(e.form.comment.data)} for e in self.assessment.entries
            ] if held else [],
        }


class InterviewSignOffForm(TaskForm):
    key = "interview_sign_off"
    template = "tasks/forms/interview_sign_off.html"
    data_keys = ("sign_off_decision", "employee_comments", "dispute_reasons")

    decision = RadioField(_l("Your decision"), choices=[
        SelectChoice("sign", _l("I sign the appraisal")),
        SelectChoice("dispute", _l("I dispute the assessment")),
    ], validators=[InputRequired(message=_l("Choose whether you sign or dispute."))])
    comments = TextAreaField(_l("Your comments"), [Length(max=4000)])
    dispute_reasons = TextAreaField(_l("Your reasons for disputing"), [Length(max=4000)])

    def validate_dispute_reasons(self, field: TextAreaField) -> None:
        _required_when(self.decision.data == "dispute", field,
                       _("Give your reasons: a dispute needs them."))

    def to_task_data(self) -> dict[str, Any]:
        dispute = self.decision.data == "dispute"
        return {"sign_off_decision": self.decision.data,
                "employee_comments": _text(self.comments.data),
                "dispute_reasons": _text(self.dispute_reasons.data) if dispute else ""}


class DisputeDecisionForm(TaskForm):
    key = "dispute_decision"
    template = "tasks/forms/interview_sign_off.html"
    data_keys = ("dispute_outcome", "revised_band", "dispute_decision_reason")

    outcome = RadioField(_l("Your decision"), choices=[
        SelectChoice("uphold", _l("Uphold the rating")),
        SelectChoice("revise", _l("Change the rating band")),
    ], validators=[InputRequired(message=_l("Choose whether you uphold or change the rating."))])
    revised_band = SelectField(_l("New rating band"),
                               choices=[SelectChoice("", "—"), *BAND_CHOICES],
                               validators=[Optional()])
    reason = TextAreaField(_l("Why"), [InputRequired(message=_l("Record why you decided so.")),
                                   Length(max=4000)])

    def validate_revised_band(self, field: SelectField) -> None:
        _required_when(self.outcome.data == "revise", field, _("Choose the new rating band."))

    def to_task_data(self) -> dict[str, Any]:
        revise = self.outcome.data == "revise"
        return {"dispute_outcome": self.outcome.data,
                "revised_band": self.revised_band.data if revise else None,
                "dispute_decision_reason": _text(self.reason.data)}


# --- calibration ----------------------------------------------------------------------------------


class RatingCalibrationForm(TaskForm):
    """Completed for a whole department at once from the calibration screen; a moved rating
    needs a reason."""

    key = "rating_calibration"
    template = "tasks/forms/rating_calibration.html"
    data_keys = ("calibrated_band", "calibration_reason", "band_before_calibration")

    band_before = HiddenField(_l("Band before calibration"), [InputRequired()])
    band = SelectField(_l("Calibrated band"), choices=BAND_CHOICES,
                       validators=[InputRequired(message=_l("Choose the band."))])
    reason = TextAreaField(_l("Reason for moving the rating"), [Length(max=2000)])

    def validate_reason(self, field: TextAreaField) -> None:
        _required_when(self.band.data != self.band_before.data, field,
                       _("A rating may be moved only with a reason."))

    def to_task_data(self) -> dict[str, Any]:
        moved = self.band.data != self.band_before.data
        return {"calibrated_band": self.band.data,
                "band_before_calibration": self.band_before.data,
                "calibration_reason": _text(self.reason.data) if moved else ""}


# --- incentive approval ---------------------------------------------------------------------------


class _IncentiveApprovalForm(TaskForm):
    template = "tasks/forms/incentive_approval.html"
    prefix_key: ClassVar[str]

    decision = RadioField(_l("Your decision"), choices=[
        SelectChoice("approve", _l("Approve the incentive")),
        SelectChoice("return", _l("Return it to HR")),
    ], validators=[InputRequired(message=_l("Choose whether you approve."))])
    comment = TextAreaField(_l("Comment"), [Length(max=4000)])

    def validate_comment(self, field: TextAreaField) -> None:
        _required_when(self.decision.data == "return", field,
                       _("Say why you return it: a reason is required."))

    @classmethod
    def is_return(cls, data: dict[str, Any]) -> bool:
        return data.get(f"{cls.prefix_key}_decision") == "return"

    def to_task_data(self) -> dict[str, Any]:
        return {f"{self.prefix_key}_decision": self.decision.data,
                f"{self.prefix_key}_comment": _text(self.comment.data)}


class IncentiveHeadApprovalForm(_IncentiveApprovalForm):
    key = "incentive_head_approval"
    prefix_key = "head"
    data_keys = ("head_decision", "head_comment")


class IncentiveFinanceApprovalForm(_IncentiveApprovalForm):
    key = "incentive_finance_approval"
    prefix_key = "finance"
    data_keys = ("finance_decision", "finance_comment")


class IncentiveRevisionForm(TaskForm):
    key = "incentive_revision"
    template = "tasks/forms/incentive_approval.html"
    data_keys = ("incentive_action", "revised_incentive_amount", "incentive_revision_note")

    action = RadioField(_l("What to do"), choices=[
        SelectChoice("resubmit", _l("Resubmit (at most the computed amount)")),
        SelectChoice("withdraw", _l("Withdraw the incentive")),
    ], validators=[InputRequired(message=_l("Choose whether to resubmit or withdraw."))])
    amount = DecimalField(_l("Amount (PKR)"), [Optional(), NumberRange(min=0)], places=None)
    note = TextAreaField(_l("Note"), [InputRequired(message=_l("Explain what you did and why.")),
                                  Length(max=4000)])

    def validate_amount(self, field: DecimalField) -> None:
        if self.action.data == "resubmit" and field.data is None:
            raise ValidationError(_("Give the amount to resubmit."))

    def to_task_data(self) -> dict[str, Any]:
        resubmit = self.action.data == "resubmit"
        return {"incentive_action": self.action.data,
                "revised_incentive_amount": float(self.amount.data) if resubmit else None,
                "incentive_revision_note": _text(self.note.data)}


APPRAISAL_FORMS: tuple[type[TaskForm], ...] = (
    ActualsReportForm, ActualsConfirmForm, MidYearSelfAssessmentForm, MidYearReviewForm,
    RevisionApprovalForm, InterviewScheduleForm, InterviewRecordForm, InterviewSignOffForm,
    DisputeDecisionForm, RatingCalibrationForm, IncentiveHeadApprovalForm,
    IncentiveFinanceApprovalForm, IncentiveRevisionForm,
)
