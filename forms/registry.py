"""Form keys → form classes, and the bridge from JSON (API) to form data (WTForms)."""

from __future__ import annotations

from typing import Any

from werkzeug.datastructures import MultiDict

from forms.appraisal import APPRAISAL_FORMS
from forms.base import TaskForm
from forms.scorecard import ScorecardApprovalForm, ScorecardDesignForm, ScorecardReviewForm

FORM_REGISTRY: dict[str, type[TaskForm]] = {
    cls.key: cls
    for cls in (ScorecardDesignForm, ScorecardReviewForm, ScorecardApprovalForm, *APPRAISAL_FORMS)
}


class UnknownFormError(LookupError):
    pass


def form_for_key(key: str | None) -> type[TaskForm]:
    if key is None or key not in FORM_REGISTRY:
        raise UnknownFormError(f"No form is registered under {key!r}")
    return FORM_REGISTRY[key]


def formdata_from_json(data: dict[str, Any]) -> MultiDict:
    """Flatten JSON the way a browser would post the same form, so both paths share one
    validation: {"kpis": [{"name": "x"}]} becomes kpis-0-name=x."""
    flat: MultiDict = MultiDict()

    def add(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, sub in value.items():
                add(f"{prefix}-{key}" if prefix else str(key), sub)
        elif isinstance(value, list):
            if value and all(isinstance(item, dict) for item in value):
                for index, item in enumerate(value):
                    add(f"{prefix}-{index}", item)
            else:
                for item in value:
                    flat.add(prefix, "" if item is None else str(item))
        elif value is None:
            flat.add(prefix, "")
        elif isinstance(value, bool):
            flat.add(prefix, "y" if value else "")
        else:
            flat.add(prefix, str(value))

    add("", data)
    return flat
