"""The scorecard doctrine checks: 3–8 KPIs, weights sum to 100, quantity and quality both
present, distinct names; a comment is mandatory when something is sent back."""

from __future__ import annotations

import copy

import pytest

from forms import form_for_key, formdata_from_json
from tests.helpers import good_scorecard


def _design(scorecard: list[dict]):  # noqa: ANN202
    form_class = form_for_key("scorecard_design")
    form = form_class(form_class.prepare_formdata(formdata_from_json({"kpis": scorecard})))
    form.validate()
    return form


def test_a_balanced_scorecard_is_accepted_and_stored_as_plain_json() -> None:
    form = _design(good_scorecard())
    assert form.errors == {}
    data = form.to_task_data()["scorecard"]
    assert data[0] == {"name": "Children fully immunised", "kind": "quantity",
                       "unit": "children", "target": 12000.0, "weight": 40}
    assert all(isinstance(k["target"], float) and isinstance(k["weight"], int) for k in data)


def test_fewer_than_three_kpis_is_refused() -> None:
    form = _design(good_scorecard()[:2])
    assert "3 to 8 KPIs" in form.errors["kpis"][0]


def test_more_than_eight_kpis_is_refused() -> None:
    kpis = [dict(good_scorecard()[0], name=f"KPI {i}", weight=10) for i in range(9)]
    assert "has 9" in _design(kpis).errors["kpis"][0]


def test_weights_must_sum_to_100() -> None:
    kpis = good_scorecard()
    kpis[0]["weight"] = 30
    assert _design(kpis).errors["kpis"] == ["Weights must add up to 100; they add up to 90."]


def test_a_quantity_only_scorecard_is_refused() -> None:
    kpis = good_scorecard()
    kpis[2]["kind"] = "quantity"
    assert "add at least one quality KPI" in _design(kpis).errors["kpis"][0]


def test_duplicate_kpi_names_are_refused() -> None:
    kpis = good_scorecard()
    kpis[1]["name"] = kpis[0]["name"].upper()
    assert "different name" in _design(kpis).errors["kpis"][0]


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("name", "", "Name the KPI."),
        ("weight", "0", "A weight is between 1 and 100."),
        ("weight", "abc", "Not a valid integer value."),
        ("target", "-5", "Number must be at least 0."),
        ("kind", "vibes", "Not a valid choice."),
    ],
)
def test_row_errors_name_the_field(field: str, value: str, message: str) -> None:
    kpis = copy.deepcopy(good_scorecard())
    kpis[1][field] = value
    errors = _design(kpis).errors["kpis"]
    row_errors = [e for e in errors if isinstance(e, dict)]
    assert any(message in msgs for e in row_errors for msgs in e.get(field, [])), errors


def test_entirely_blank_spare_rows_are_ignored() -> None:
    blank = {"name": "", "kind": "", "unit": "", "target": "", "weight": ""}
    assert _design([*good_scorecard(), blank, blank]).errors == {}


def test_the_design_form_is_prefilled_with_the_current_scorecard() -> None:
    form_class = form_for_key("scorecard_design")
    form = form_class(data=form_class.initial_data({"scorecard": good_scorecard()}))
    assert [e.form.name.data for e in form.kpis.entries] == [k["name"] for k in good_scorecard()]


@pytest.mark.parametrize("key", ["scorecard_review", "scorecard_approval"])
def test_sending_back_without_a_comment_is_refused(key: str) -> None:
    form_class = form_for_key(key)
    form = form_class(formdata_from_json({"decision": "return", "comment": "  "}))
    assert not form.validate()
    assert "comment is required" in form.errors["comment"][0]


def test_agreeing_needs_no_comment() -> None:
    form_class = form_for_key("scorecard_review")
    form = form_class(formdata_from_json({"decision": "agree"}))
    assert form.validate()
    assert form.to_task_data() == {"employee_decision": "agree", "employee_comment": ""}


def test_a_decision_outside_the_choices_is_refused() -> None:
    form_class = form_for_key("scorecard_approval")
    form = form_class(formdata_from_json({"decision": "rubber-stamp"}))
    assert not form.validate()
    assert "decision" in form.errors


def test_forms_describe_their_fields_for_api_clients() -> None:
    [kpis] = form_for_key("scorecard_design").describe()
    assert kpis["name"] == "kpis" and kpis["min_entries"] == 3 and kpis["max_entries"] == 8
    assert [f["name"] for f in kpis["item_fields"]] == [
        "name", "kind", "unit", "target", "weight", "scope", "linked_from", "reporter"]
