"""Task forms. A BPMN user task names its form by key (the `formKey` task property);
`forms.registry` maps keys to WTForms classes."""

from forms.registry import FORM_REGISTRY, TaskForm, form_for_key, formdata_from_json

__all__ = ["FORM_REGISTRY", "TaskForm", "form_for_key", "formdata_from_json"]
