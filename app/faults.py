"""Named pause points for the crash tests (tests/integration/test_faults.py).

A pause point does nothing unless the app runs with the *test* configuration and
`MEEZAN_FAULT_PAUSE_AT` names it (`point` or `point@N` for its N-th passage in this process).
Then, the first time it is reached, the process writes its pid to `MEEZAN_FAULT_MARKER` and
sleeps, holding its open transaction, so the test can `kill -9` it at exactly that moment.
Production and development configurations have no such setting: the call is a dictionary
lookup and a return.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from threading import Lock

from flask import current_app

_passages: Counter[str] = Counter()
_lock = Lock()
PAUSE_SECONDS = 120


def pause_point(name: str) -> None:
    config = current_app.config
    spec = config.get("FAULT_PAUSE_AT")
    if not spec or not config.get("TESTING"):
        return
    target, _, nth = spec.partition("@")
    if target != name:
        return
    with _lock:
        _passages[name] += 1
        if _passages[name] != int(nth or 1):
            return
    try:  # once per test run, even across the worker restarts the test provokes
        fd = os.open(config["FAULT_MARKER"], os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    time.sleep(PAUSE_SECONDS)
