"""The DMN tables in workflows/ declare hit policy UNIQUE. SpiffWorkflow stops at the first
matching rule without checking that no other matches, so these specs check it: every input that
can occur matches exactly one rule, the one the appraisal rules expect."""

from __future__ import annotations

import copy
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from SpiffWorkflow.dmn.engine.DMNEngine import DMNEngine
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser

from app.engine.scripts import restricted_script_engine

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"


def _table(filename: str) -> Any:
    parser = SpiffBpmnParser(validator=VALIDATOR)
    parser.add_dmn_file(str(WORKFLOWS / filename))
    (dmn_parser,) = parser.dmn_parsers.values()
    dmn_parser.parse()
    (table,) = dmn_parser.decision.decisionTables
    assert table.hit_policy == "UNIQUE"
    every_match = copy.copy(table)
    every_match.hit_policy = "COLLECT"  # report all the rules that match, not just the first
    return every_match


def _matching_rules(table: Any, data: dict[str, Any]) -> list[str]:
    task = SimpleNamespace(data=data, workflow=SimpleNamespace(
        script_engine=restricted_script_engine()))
    return [rule.id for rule in DMNEngine(table).decide(task)]


@pytest.mark.parametrize(("score", "rule"), [
    (0, "Rule_below_average"), (39.99, "Rule_below_average"), (40, "Rule_average"),
    (59.99, "Rule_average"), (60, "Rule_good"), (74.99, "Rule_good"), (75, "Rule_very_good"),
    (89.99, "Rule_very_good"), (90, "Rule_outstanding"), (100, "Rule_outstanding"),
])
def test_every_score_falls_in_exactly_one_rating_band(score: float, rule: str) -> None:
    assert _matching_rules(_table("rating_band.dmn"), {"score": score}) == [rule]


@pytest.mark.parametrize("band", ["outstanding", "very_good", "good", "average",
                                  "below_average"])
@pytest.mark.parametrize("grade", [None, 1, 16, 17, 22])
def test_every_band_and_grade_earns_exactly_one_incentive_share(band: str,
                                                                grade: int | None) -> None:
    table = _table("incentive.dmn")
    rules = _matching_rules(table, {"final_band": band, "subject": {"grade": grade}})
    junior = (grade or 0) <= 16
    expected = {
        "outstanding": "Rule_outstanding_junior" if junior else "Rule_outstanding_senior",
        "very_good": "Rule_very_good_junior" if junior else "Rule_very_good_senior",
        "good": "Rule_good",
    }.get(band, "Rule_other")
    assert rules == [expected]
