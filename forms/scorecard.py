"""Goal-setting forms: the reporting officer's scorecard design, the employee's review and the
countersigning officer's approval. The doctrine checks of the seed's "Ten Commandments" that
software can enforce live here as form validation."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

from werkzeug.datastructures import MultiDict
from wtforms import (
    DecimalField,
    FieldList,
    Form,
    FormField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, NumberRange, ValidationError

from forms.base import TaskForm, _, _l

MIN_KPIS = 3
MAX_KPIS = 8
KPI_KINDS = [SelectChoice("quantity", _l("Quantity")), SelectChoice("quality", _l("Quality"))]
KPI_CORE_FIELDS = ("name", "kind", "unit", "target", "weight")
KPI_SUBFIELDS = (*KPI_CORE_FIELDS, "scope", "linked_from", "reporter")
# Doctrine: individual measures first; team measures may sit beside them; a "linked" measure is
# shared from another unit's scorecard so interdependent groups cooperate.
KPI_SCOPES = [
    SelectChoice("individual", _l("Individual")),
    SelectChoice("team", _l("Team")),
    SelectChoice("linked", _l("Linked (shared from another unit)")),
]
# Who enters the monthly actual: the officer, or the employee with the officer confirming it.
KPI_REPORTERS = [
    SelectChoice("officer", _l("Reporting officer")),
    SelectChoice("employee", _l("Employee (officer confirms)")),
]


class KpiForm(Form):
    name = StringField(_l("KPI"), [InputRequired(message=_l("Name the KPI.")), Length(max=200)])
    kind = SelectField(_l("Kind"), choices=KPI_KINDS, validators=[InputRequired()])
    unit = StringField(_l("Unit"), [InputRequired(message=_l("Give the unit of measure.")),
                                    Length(max=50)])
    target = DecimalField(
        _l("Target"), [InputRequired(message=_l("Set a target.")), NumberRange(min=0)], places=None
    )
    weight = IntegerField(
        _l("Weight (%)"),
        [
            InputRequired(message=_l("Give the weight in whole percent.")),
            NumberRange(min=1, max=100, message=_l("A weight is between 1 and 100.")),
        ],
    )
    scope = SelectField(_l("Scope"), choices=KPI_SCOPES, default="individual")
    linked_from = StringField(_l("Linked from (unit)"), [Length(max=200)])
    reporter = SelectField(_l("Monthly actual entered by"), choices=KPI_REPORTERS,
                           default="officer")

    def validate_linked_from(self, field: StringField) -> None:
        if self.scope.data == "linked" and not (field.data or "").strip():
            raise ValidationError(_("Name the unit whose scorecard this linked KPI comes from."))


class ScorecardDesignForm(TaskForm):
    key = "scorecard_design"
    template = "tasks/forms/scorecard_design.html"
    data_keys = ("scorecard",)

    list_limits = {"kpis": (MIN_KPIS, MAX_KPIS)}

    kpis = FieldList(FormField(KpiForm), label=_l("KPIs"), min_entries=0)

    def validate_kpis(self, field: FieldList) -> None:
        rows = [entry.form for entry in field.entries]
        if not MIN_KPIS <= len(rows) <= MAX_KPIS:
            raise ValidationError(_(
                "A scorecard has %(least)s to %(most)s KPIs; this one has %(count)s.",
                least=MIN_KPIS, most=MAX_KPIS, count=len(rows)))
        if any(row.errors for row in rows):
            return  # row-level messages say what to fix first
        total = sum(row.weight.data or 0 for row in rows)
        if total != 100:
            raise ValidationError(
                _("Weights must add up to 100; they add up to %(total)s.", total=total))
        kinds = {row.kind.data for row in rows}
        if kinds != {"quantity", "quality"}:
            missing = {"quantity", "quality"} - kinds
            if missing == {"quality"}:
                raise ValidationError(
                    _("Balance quantity and quality: add at least one quality KPI."))
            if missing == {"quantity"}:
                raise ValidationError(
                    _("Balance quantity and quality: add at least one quantity KPI."))
            raise ValidationError(_("Balance quantity and quality: add at least one quality "
                                    "and one quantity KPI."))
        names = [row.name.data.strip().casefold() for row in rows]
        if len(set(names)) != len(names):
            raise ValidationError(_("Each KPI needs a different name."))
        if not any((row.scope.data or "individual") == "individual" for row in rows):
            raise ValidationError(_(
                "Team and linked KPIs may sit beside individual ones, not replace them: add at "
                "least one individual KPI."))

    @classmethod
    def initial_data(cls, case_data: dict[str, Any]) -> dict[str, Any]:
        """The current scorecard, with whole-number targets shown as 12000, not 12000.0."""
        kpis = []
        for kpi in case_data.get("scorecard") or []:
            target = kpi.get("target")
            if isinstance(target, float) and target.is_integer():
                kpi = {**kpi, "target": int(target)}
            kpis.append(kpi)
        return {"kpis": kpis}

    @classmethod
    def prepare_formdata(cls, formdata: Any) -> Any:
        """Drop KPI rows left entirely blank (the page offers spare rows)."""
        if formdata is None:
            return None
        kept: MultiDict = MultiDict()
        rows: dict[str, dict[str, list[str]]] = {}
        for key, values in formdata.lists():
            parts = key.split("-")
            if len(parts) == 3 and parts[0] == "kpis" and parts[2] in KPI_SUBFIELDS:
                rows.setdefault(parts[1], {})[parts[2]] = values
            else:
                for value in values:
                    kept.add(key, value)
        blank = {
            idx for idx, fields in rows.items()
            if all(not v.strip() for name in KPI_CORE_FIELDS for v in fields.get(name, []))
        }
        ordered = sorted((idx for idx in rows if idx not in blank), key=_row_order)
        for new_idx, idx in enumerate(ordered):
            for sub, values in rows[idx].items():
                for value in values:
                    kept.add(f"kpis-{new_idx}-{sub}", value)
        return kept

    def to_task_data(self) -> dict[str, Any]:
        scorecard = []
        for entry in self.kpis.entries:
            row = entry.form
            target: Decimal = row.target.data
            kpi: dict[str, Any] = {
                "name": row.name.data.strip(),
                "kind": row.kind.data,
                "unit": row.unit.data.strip(),
                "target": float(target),
                "weight": int(row.weight.data),
            }
            # Only what differs from the defaults (an individual KPI the officer reports).
            if (row.scope.data or "individual") != "individual":
                kpi["scope"] = row.scope.data
            if kpi.get("scope") == "linked":
                kpi["linked_from"] = (row.linked_from.data or "").strip()
            if (row.reporter.data or "officer") != "officer":
                kpi["reporter"] = row.reporter.data
            scorecard.append(kpi)
        return {"scorecard": scorecard}


def _row_order(idx: str) -> tuple[int, str]:
    return (int(idx), idx) if idx.isdigit() else (10**9, idx)


class _DecisionForm(TaskForm):
    """A decision with a comment that is mandatory when the item is sent back."""

    decision_prefix: ClassVar[str]
    return_value: ClassVar[str] = "return"
    # Bulk action ("approve"/"return") → this form's decision value; see TaskForm.bulk_formdata.
    bulk_decisions: ClassVar[dict[str, str]] = {}

    comment = TextAreaField(_l("Comment"), [Length(max=4000)])

    def validate_comment(self, field: TextAreaField) -> None:
        if self.decision.data == self.return_value and not (field.data or "").strip():
            raise ValidationError(_("Say why you are sending it back: a comment is required."))

    @classmethod
    def bulk_formdata(cls, action: str, comment: str) -> MultiDict | None:
        if action not in cls.bulk_decisions:
            return None
        return MultiDict({"decision": cls.bulk_decisions[action], "comment": comment})

    @classmethod
    def is_return(cls, data: dict[str, Any]) -> bool:
        return data.get(f"{cls.decision_prefix}_decision") == cls.return_value

    def to_task_data(self) -> dict[str, Any]:
        return {
            f"{self.decision_prefix}_decision": self.decision.data,
            f"{self.decision_prefix}_comment": (self.comment.data or "").strip(),
        }


class ScorecardReviewForm(_DecisionForm):
    key = "scorecard_review"
    template = "tasks/forms/scorecard_review.html"
    decision_prefix = "employee"
    data_keys = ("employee_decision", "employee_comment")
    bulk_decisions = {"approve": "agree", "return": "return"}

    decision = RadioField(
        _l("Your decision"),
        choices=[
            SelectChoice("agree", _l("I agree to this scorecard")),
            SelectChoice("return", _l("Send it back for changes")),
        ],
        validators=[InputRequired(message=_l("Choose whether you agree."))],
    )


class ScorecardApprovalForm(_DecisionForm):
    key = "scorecard_approval"
    template = "tasks/forms/scorecard_review.html"
    decision_prefix = "countersign"
    data_keys = ("countersign_decision", "countersign_comment")
    bulk_decisions = {"approve": "approve", "return": "return"}

    decision = RadioField(
        _l("Your decision"),
        choices=[
            SelectChoice("approve", _l("Approve the scorecard")),
            SelectChoice("return", _l("Return to reporting officer")),
        ],
        validators=[InputRequired(message=_l("Choose whether you approve."))],
    )
