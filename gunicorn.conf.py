"""gunicorn settings for Meezan: `gunicorn -c gunicorn.conf.py wsgi:app`.

Everything comes from the environment, so one file serves a laptop and a server:

  MEEZAN_HOST / MEEZAN_PORT     where to listen (127.0.0.1:8000; put TLS in front)
  MEEZAN_WORKERS                worker processes (default: 2 × cores + 1)
  MEEZAN_THREADS                threads per worker (default 4: requests mostly wait on PostgreSQL)
  MEEZAN_TIMEOUT                seconds a request may take before its worker is replaced (60)
  MEEZAN_GRACEFUL_TIMEOUT       seconds in-flight requests get to finish on SIGTERM (30)
  MEEZAN_MAX_REQUESTS           recycle a worker after this many requests (0: never)

Access and error logs go to stdout/stderr (the process manager or container runtime collects
them); each access line carries the request id the app also puts in its own log lines.
"""

from __future__ import annotations

import multiprocessing
import os


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


bind = f"{os.environ.get('MEEZAN_HOST', '127.0.0.1')}:{_int('MEEZAN_PORT', 8000)}"
workers = _int("MEEZAN_WORKERS", 2 * multiprocessing.cpu_count() + 1)
threads = _int("MEEZAN_THREADS", 4)
worker_class = "gthread"
timeout = _int("MEEZAN_TIMEOUT", 60)
graceful_timeout = _int("MEEZAN_GRACEFUL_TIMEOUT", 30)  # SIGTERM: finish in-flight, then exit
keepalive = _int("MEEZAN_KEEPALIVE", 5)
max_requests = _int("MEEZAN_MAX_REQUESTS", 0)
max_requests_jitter = max_requests // 10
# Each worker builds its own app (and database pool) after the fork: no shared connections.
preload_app = False
# Heartbeat files in memory, not on a possibly slow disk.
_SHM = "/dev/shm"  # noqa: S108 - gunicorn heartbeat files, not data
worker_tmp_dir = _SHM if os.path.isdir(_SHM) else None
forwarded_allow_ips = os.environ.get("MEEZAN_FORWARDED_ALLOW_IPS", "127.0.0.1")
limit_request_line = 8190

accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("MEEZAN_LOG_LEVEL", "info").lower()
access_log_format = (
    'access request_id=%({x-request-id}o)s remote=%(h)s method=%(m)s path="%(U)s" '
    'query="%(q)s" status=%(s)s bytes=%(B)s duration_ms=%(M)s agent="%(a)s"'
)
proc_name = "meezan"
# gunicorn ≥ 27 opens a control socket at one fixed path per user; several servers on one host
# (or a test beside a server) would fight over it. Opt in with MEEZAN_GUNICORN_CONTROL_SOCKET=1.
control_socket_disable = os.environ.get("MEEZAN_GUNICORN_CONTROL_SOCKET", "0") != "1"
