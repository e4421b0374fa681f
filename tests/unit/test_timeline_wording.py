"""The case timeline says what changed in words people use."""

from __future__ import annotations

import copy

from app.blueprints.helpers import DECISION_LABELS, describe_scorecard_changes
from tests.helpers import good_scorecard


def test_a_redesign_is_described_kpi_by_kpi() -> None:
    before = good_scorecard()
    after = copy.deepcopy(before)
    after[0]["target"] = 10000
    after[2] = {**after[2], "name": "Cold-chain audits", "weight": 35}
    assert describe_scorecard_changes([], before) == ["designed 3 KPIs"]
    assert describe_scorecard_changes(before, after) == [
        "added “Cold-chain audits”",
        "removed “Cold-chain audits passed”",
        "“Children fully immunised” target 12000 → 10000",
    ]
    assert describe_scorecard_changes(before, before) == ["resubmitted unchanged"]


def test_decisions_read_as_actions() -> None:
    assert DECISION_LABELS["return"] == "sent it back"
    assert DECISION_LABELS["approve"] == "approved"
