"""What a picker suggests as someone types: rows whose name (or key) contains the typed text.

Shared by the colleague picker (users) and the employee picker (cases): the same escaping of
LIKE's wildcards, the same minimum before anything is suggested, the same page of suggestions.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, or_

SUGGESTIONS = 20
MIN_LENGTH = 2  # one letter matches too much of a ministry to be worth a query
_LIKE_SPECIAL = str.maketrans({"\\": "\\\\", "%": "\\%", "_": "\\_"})


def contains_text(text: str, *columns: ColumnElement[str]) -> ColumnElement[bool] | None:
    """Any of `columns` contains `text` (any case; %, _ and \\ taken literally), or None when
    fewer than MIN_LENGTH characters were typed."""
    text = text.strip()
    if len(text) < MIN_LENGTH:
        return None
    pattern = f"%{text.translate(_LIKE_SPECIAL)}%"
    return or_(*(column.ilike(pattern, escape="\\") for column in columns))
