"""The contract every task form keeps, so the web UI and the API can treat forms alike."""

from __future__ import annotations

from typing import Any, ClassVar

from flask_babel import get_translations
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import MultiDict
from wtforms import Field, FieldList, Form, FormField, RadioField, SelectField
from wtforms.validators import DataRequired, InputRequired

# Labels and messages in the reader's language: `_l` where the text is fixed when the class is
# defined (shown later, in a request), `_` where it is built during validation.
__all__ = ["TaskForm", "_", "_l", "FORM_TRANSLATIONS"]


def N_(message: str) -> str:  # noqa: N802 - the name the catalogue's extractor looks for
    return message


def N_plural(singular: str, plural: str) -> tuple[str, str]:  # noqa: N802 - extractor keyword
    return singular, plural


# WTForms' own messages that our fields can produce, so the catalogue carries them (WTForms
# ships no Urdu): the validators ask FORM_TRANSLATIONS, which reads our catalogue.
WTFORMS_MESSAGES = (
    N_("This field is required."), N_("Not a valid choice."), N_("Not a valid date value."),
    N_("Not a valid time value."), N_("Not a valid decimal value."),
    N_("Not a valid integer value."), N_("Number must be at least %(min)s."),
    N_("Number must be at most %(max)s."), N_("Number must be between %(min)s and %(max)s."),
    N_("Invalid Choice: could not coerce."), N_("Invalid input."),
    N_plural("Field cannot be longer than %(max)d character.",
             "Field cannot be longer than %(max)d characters."),
)


class BabelFormTranslations:
    """WTForms' translations hook (Meta.get_translations) answered from the app's catalogue in
    the reader's language. It returns the bare translation: WTForms fills in %(min)s itself."""

    def gettext(self, string: str) -> str:
        return get_translations().ugettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return get_translations().ungettext(singular, plural, n)


FORM_TRANSLATIONS = BabelFormTranslations()


class TaskForm(Form):
    """A WTForms form that reads its initial values from case data and writes task data.

    CSRF is not part of the form: the web layer protects every POST with Flask-WTF's
    CSRFProtect, and the API authenticates with bearer tokens instead of cookies.
    """

    class Meta:
        def get_translations(self, form: Form) -> BabelFormTranslations:
            return FORM_TRANSLATIONS

    key: ClassVar[str]
    template: ClassVar[str] = "tasks/forms/generic.html"
    # Task data keys this form writes; the audit trail records their before/after values.
    data_keys: ClassVar[tuple[str, ...]] = ()
    # Least and most entries of each list field, for validation messages and API clients.
    list_limits: ClassVar[dict[str, tuple[int, int]]] = {}

    @classmethod
    def initial_data(cls, case_data: dict[str, Any]) -> dict[str, Any]:
        """Values to pre-fill from the case (e.g. the current scorecard when it comes back)."""
        return {}

    @classmethod
    def prepare_formdata(cls, formdata: Any) -> Any:
        """Hook to normalise submitted data before validation."""
        return formdata

    def to_task_data(self) -> dict[str, Any]:
        """JSON-safe task data (no Decimal or date objects: the serializer stores JSON)."""
        raise NotImplementedError

    @classmethod
    def bulk_formdata(cls, action: str, comment: str) -> MultiDict | None:
        """The form data that "approve" or "return" (with one comment) means for this form in
        a bulk action from the queue, or None when the form has no well-defined bulk meaning
        (then its tasks must be opened one by one)."""
        return None

    @classmethod
    def is_return(cls, data: dict[str, Any]) -> bool:
        """Whether this submission sends the work back (its next holder hears "returned")."""
        return False

    @classmethod
    def describe(cls) -> list[dict[str, Any]]:
        """The form's fields for API clients: name, label, type, required, choices, subfields."""
        return [_describe_field(field, cls.list_limits) for field in cls()]


def _describe_field(field: Field, list_limits: dict[str, tuple[int, int]]) -> dict[str, Any]:
    required = any(isinstance(v, InputRequired | DataRequired) for v in field.validators)
    info: dict[str, Any] = {
        "name": field.short_name,
        "label": field.label.text,
        "type": field.type,
        "required": required,
    }
    if field.description:
        info["description"] = field.description
    if isinstance(field, SelectField | RadioField):
        info["choices"] = [{"value": c.value, "label": c.label} for c in field.choices]
    if isinstance(field, FieldList):
        template = field.unbound_field.bind(form=None, name="item", prefix="", _meta=field.meta)
        if isinstance(template, FormField):
            info["item_fields"] = [_describe_field(sub, {}) for sub in template.form_class()]
        least, most = list_limits.get(field.short_name, (None, None))
        info["min_entries"], info["max_entries"] = least, most
    return info
