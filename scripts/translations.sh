#!/usr/bin/env bash
# The interface's translation catalogues (Flask-Babel / pybabel).
#   scripts/translations.sh extract   collect the messages of app/, forms/ and the templates
#                                     into messages.pot and merge them into every language's .po
#   scripts/translations.sh compile   compile the .po files to the .mo files the app reads
#                                     (setup.sh does this; the .mo files are not in git)
#   scripts/translations.sh check     fail if a language misses, has not translated, or has only
#                                     a fuzzy guess for a message of the source
#   scripts/translations.sh init LANG start a new language (e.g. pa)
set -euo pipefail
cd "$(dirname "$0")/.."
PYBABEL=.venv/bin/pybabel
DIR=app/translations
case "${1:-}" in
  extract)
    # _l: lazy_gettext; N_: mark only; N_plural: a plural pair marked only.
    "$PYBABEL" -q extract -F babel.cfg -k _l -k lazy_gettext -k N_plural:1,2 \
      --no-location --sort-output --omit-header -o messages.pot app forms
    "$PYBABEL" -q update --no-fuzzy-matching --ignore-obsolete -i messages.pot -d "$DIR"
    ;;
  compile)
    "$PYBABEL" -q compile -d "$DIR"
    ;;
  check)
    .venv/bin/python - "$DIR" <<'PY'
import sys
from pathlib import Path
from app.i18n import catalogue_problems, source_messages
expected = source_messages()
problems = [f"{po}: {p}" for po in sorted(Path(sys.argv[1]).glob("*/LC_MESSAGES/messages.po"))
            for p in catalogue_problems(po, expected)]
print("\n".join(problems) or "every catalogue is complete")
sys.exit(1 if problems else 0)
PY
    ;;
  init)
    "$PYBABEL" -q init -i messages.pot -d "$DIR" -l "${2:?language code}"
    ;;
  *) echo "usage: $0 extract|compile|check|init LANG" >&2; exit 2 ;;
esac
