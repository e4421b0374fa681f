#!/usr/bin/env bash
# Install everything Meezan needs from the project's own files: a virtualenv with the Python
# dependencies from pyproject.toml, and (with --test) Debian's Chromium for the browser tests.
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

if [ "$want_browser" = 1 ] && [ ! -x /usr/bin/chromium ]; then
  # Browser tests drive Debian's Chromium; never a browser downloaded by a test tool.
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
