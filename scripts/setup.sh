#!/usr/bin/env bash
# Install everything Meezan needs from the project's own files: a virtualenv with the Python
# dependencies from pyproject.toml, the browser bundles built from package.json (npm + esbuild),
# and (with --test) Debian's Chromium for the browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."

extras=""
want_browser=0
for arg in "$@"; do
  case "$arg" in
    --test) extras="[test]"; want_browser=1 ;;
    *) echo "usage: $0 [--test]" >&2; exit 2 ;;
  esac
done

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".${extras}"

# The modeler and case diagram (bpmn-js) come from npm, pinned by package-lock.json, and are
# bundled by esbuild into app/static/build/ (git-ignored): served by Flask, no CDN.
if ! command -v npm >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nodejs npm >/dev/null
fi
npm ci --no-audit --no-fund --loglevel=error
npm run --silent build

# The interface's translations: app/translations/*/LC_MESSAGES/messages.po compiled to the .mo
# files Flask-Babel reads (git-ignored; see scripts/translations.sh).
scripts/translations.sh compile

# The appraisal report (PDF) embeds Debian's fonts: DejaVu Sans for Latin text, Scheherazade
# for Urdu (names and comments in the Arabic script). Without them it falls back to Helvetica.
fonts=/usr/share/fonts/truetype
need_fonts=0
[ -f "$fonts/dejavu/DejaVuSans.ttf" ] || need_fonts=1
[ -f "$fonts/scheherazade/Scheherazade-Regular.ttf" ] \
  || [ -f "$fonts/scheherazade/ScheherazadeNew-Regular.ttf" ] || need_fonts=1
if [ "$need_fonts" = 1 ]; then
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq fonts-dejavu-core \
    fonts-sil-scheherazade >/dev/null
fi

if [ "$want_browser" = 1 ] && [ ! -x /usr/bin/chromium ]; then
  # Browser tests drive Debian's Chromium; never a browser downloaded by a test tool.
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
