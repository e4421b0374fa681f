"""The interface language: English or Urdu, chosen by each person and remembered.

Which language a page is in: the signed-in person's saved choice (``users.locale``), else the
choice an anonymous visitor made (a cookie, so the sign-in page itself can be read in Urdu),
else the browser's Accept-Language among the languages we have, else English. The JSON API
always answers in English: its messages are read by programs and the people who write them, and
a client should not see different error texts depending on its HTTP library's headers.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import urlsplit

from babel import Locale
from flask import Blueprint, Flask, abort, current_app, g, redirect, request, url_for
from flask_babel import (
    format_date,
    format_datetime,
    format_decimal,
    get_locale,
    get_translations,
    gettext,
    refresh,
)
from flask_babel.speaklater import LazyString
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from app.extensions import babel, db
from app.services.errors import Message
from forms.base import FORM_TRANSLATIONS

DEFAULT_LOCALE = "en"
# Code → the language's own name (what the switcher shows: a reader of Urdu looks for "اردو").
LANGUAGES: dict[str, str] = {"en": "English", "ur": "اردو"}
LOCALE_COOKIE = "meezan_lang"
LOCALE_COOKIE_MAX_AGE = 365 * 24 * 3600
TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"

bp = Blueprint("i18n", __name__)


def N_(message: str) -> str:  # noqa: N802 - the name the extractor looks for
    """Mark a message for the catalogue where it must stay plain text until it is shown
    (translated then by whoever shows it, e.g. Flask-Login's localize_callback)."""
    return message


def translated(message: str) -> str:
    """A message written elsewhere (a service's refusal, marked with N_ where it is raised) in
    the reader's language when the catalogue has it, otherwise as it is: services also answer
    the API and the command line, which speak English. A `Message` with values is translated
    by its template, then filled in (values that are `Message`s themselves, e.g. a status
    word, translated too)."""
    translations = get_translations()
    if isinstance(message, Message):
        values = {name: translated(value) if isinstance(value, Message) else value
                  for name, value in message.params.items()}
        return translations.ugettext(message.template) % values
    return translations.ugettext(str(message))


def select_locale() -> str:
    """Flask-Babel's locale selector (see the module docstring for the order)."""
    if not request:
        return DEFAULT_LOCALE
    if request.path.startswith("/api/"):
        return DEFAULT_LOCALE
    user_choice = _saved_choice()
    if user_choice:
        return user_choice
    cookie = request.cookies.get(LOCALE_COOKIE)
    if cookie in LANGUAGES:
        return cookie
    return request.accept_languages.best_match(list(LANGUAGES)) or DEFAULT_LOCALE


def _saved_choice() -> str | None:
    if g.get("locale_without_database"):  # the "database unavailable" page: no user to load
        return None
    try:
        user = current_user._get_current_object() if current_user else None
    except Exception:  # noqa: BLE001 - no user loader result (database down): no saved choice
        return None
    locale = getattr(user, "locale", None) if user is not None else None
    return locale if locale in LANGUAGES else None


def text_direction() -> str:
    """"rtl" for Urdu, "ltr" for English: the page's dir attribute."""
    locale = get_locale() or Locale.parse(DEFAULT_LOCALE)
    return locale.text_direction


def _safe_next(target: str | None) -> str:
    """Back to the page the switcher was on, only if it is a path on this site."""
    local = (
        bool(target)
        and target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and not urlsplit(target).netloc
    )
    return target if local else url_for("tasks.my_tasks")


@bp.route("/language", methods=["POST"])
def set_language() -> Response:
    """Switch the interface language. Anyone may (the sign-in page has the switcher too); a
    signed-in person's choice is saved on their account so it follows them to other devices,
    and a cookie remembers it on this browser after signing out."""
    choice = request.form.get("language", "")
    if choice not in LANGUAGES:
        abort(400, gettext("Choose English or Urdu."))
    if current_user.is_authenticated:
        current_user.locale = choice
        db.session.commit()
    response = redirect(_safe_next(request.form.get("next")))
    response.set_cookie(
        LOCALE_COOKIE, choice, max_age=LOCALE_COOKIE_MAX_AGE, httponly=True, samesite="Lax",
        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
    )
    return response


def compile_catalogues(directory: Path = TRANSLATIONS_DIR) -> list[Path]:
    """Compile every language's messages.po whose messages.mo is missing or older (what
    `scripts/translations.sh compile` does), so a test run never reads a stale catalogue."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    compiled = []
    for po in sorted(directory.glob("*/LC_MESSAGES/messages.po")):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as source:
            catalog = read_po(source, locale=po.parent.parent.name)
        with mo.open("wb") as target:
            write_mo(target, catalog)
        compiled.append(mo)
    return compiled


def source_messages(root: Path | None = None) -> dict[str | tuple[str, ...], str]:
    """Every message the code and templates mark for translation (what `extract` collects),
    message id → where it was first found: the yardstick for a complete catalogue."""
    from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
    from babel.messages.frontend import parse_mapping_cfg

    root = root or Path(__file__).resolve().parent.parent
    with (root / "babel.cfg").open() as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    keywords = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None, "N_plural": (1, 2)}
    found: dict[str | tuple[str, ...], str] = {}
    for folder in ("app", "forms"):
        for filename, lineno, message, _comments, _context in extract_from_dir(
                root / folder, method_map, options_map, keywords=keywords):
            found.setdefault(message, f"{folder}/{filename}:{lineno}")
    return found


def catalogue_problems(po_path: Path, expected: dict | None = None) -> list[str]:
    """What keeps a language's catalogue from being complete: messages of the source missing
    from it, untranslated or fuzzy (a guess pybabel made that nobody checked), or whose named
    values (%(name)s) differ from the English."""
    import re

    from babel.messages.pofile import read_po

    with po_path.open("rb") as handle:
        catalog = read_po(handle)
    placeholders = re.compile(r"%\(\w+\)[sd]")
    problems = []
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy:
            problems.append(f"fuzzy: {ids[0]!r}")
        elif not all(strings):
            problems.append(f"untranslated: {ids[0]!r}")
        elif any(sorted(placeholders.findall(ids[0])) != sorted(placeholders.findall(s))
                 for s in strings):
            problems.append(f"named values differ: {ids[0]!r}")
    for message_id, where in (expected or {}).items():
        key = message_id[0] if isinstance(message_id, tuple) else message_id
        if catalog.get(key) is None:
            problems.append(f"missing (run scripts/translations.sh extract): {key!r} at {where}")
    return problems


def _as_utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def format_when(value: datetime | None) -> str:
    """A moment as "23 Nov 2026 13:20 UTC", with month names in the reader's language."""
    if value is None:
        return "—"
    return format_datetime(_as_utc(value), "dd MMM yyyy HH:mm 'UTC'", rebase=False)


def format_day(value: datetime | date | None) -> str:
    """A day as "23 Nov 2026", with month names in the reader's language."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return format_datetime(_as_utc(value), "dd MMM yyyy", rebase=False)
    return format_date(value, "dd MMM yyyy")


def format_amount(value: float | int | None, decimals: int = 0) -> str:
    """A sum of money or a count with the reader's grouping: 1,250,000 or 1,250,000.00."""
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return format_decimal(value or 0, format=pattern)


def _is_text(value: object) -> bool:
    return isinstance(value, str | LazyString)


def page_language() -> dict[str, object]:
    """What every page needs to know about its language (also for pages rendered without the
    context processors, like the one shown while the database is unreachable)."""
    locale = get_locale()
    code = locale.language if locale is not None else DEFAULT_LOCALE
    return {"current_language": code, "text_direction": text_direction(),
            "languages": LANGUAGES}


def register(app: Flask) -> None:
    """Attach Flask-Babel with our selector, the switcher route and the template helpers."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LOCALE)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS_DIR))
    babel.init_app(app, locale_selector=select_locale)
    # {% trans %} blocks may wrap over lines in the templates; the catalogue holds one line.
    app.jinja_env.policies["ext.i18n.trimmed"] = True
    # Form labels and messages are lazily translated strings; templates that ask `is string`
    # (to tell a message from a sub-form's error dict) must see them as the text they are.
    app.jinja_env.tests["string"] = _is_text
    # WTForms' built-in messages ("This field is required.") from our catalogue for the web
    # forms too (Flask-WTF would look only in WTForms' own catalogues, which have no Urdu).
    FlaskForm.Meta.get_translations = lambda self, form: FORM_TRANSLATIONS
    app.register_blueprint(bp)
    app.jinja_env.filters["amount"] = format_amount
    app.jinja_env.filters["translated"] = translated  # a service's message, in the reader's
    # Flask-Babel remembers the locale on `g`, which outlives a request when the request runs
    # inside an application context already pushed (a CLI command, a test): choose afresh.
    app.before_request(refresh)

    app.context_processor(page_language)
