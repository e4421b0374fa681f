"""What drawing one appraisal report (PDF) costs: a whole year's case, drawn N times.

Why this exists: the report is drawn on request (GET /cases/<id>/report.pdf), so its cost is a
request's latency. The case is the specs' whole year (tests/integration/test_appraisal_report.py:
a mid-year revision, eleven months of actuals, an interview, a dispute, a calibration move, an
incentive returned once and approved), on the demo department. Each report is timed as the
service draws it for a signed-in user (`appraisal_report.generate`: reading the case, its audit
event, fpdf2 drawing), in wall time and in this process's CPU time (`time.process_time`, which
the machine's other load does not inflate). `--urdu` gives the employee an Urdu name, so
the Arabic-script font is embedded and HarfBuzz shapes the text.

    .venv/bin/python bench/report_pdf.py                      # SQLite in a temp dir
    .venv/bin/python bench/report_pdf.py --reports 20 --urdu
    .venv/bin/python bench/report_pdf.py --database-url postgresql://postgres@127.0.0.1:5432/meezan_h2_bench

PostgreSQL databases are emptied first (every table dropped).
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# Run as a script, bench/ is first on the path, and bench/queue.py would shadow `queue`.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from pypdf import PdfReader  # noqa: E402

from app.clock import clock  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import User  # noqa: E402
from app.services import appraisal_report, demo  # noqa: E402
from bench.common import bench_app, rebuild_database  # noqa: E402
from tests.appraisal_helpers import at  # noqa: E402
from tests.conftest import employee_of  # noqa: E402
from tests.integration.test_appraisal_report import _whole_year  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="a database to EMPTY (default: SQLite, temp dir)")
    parser.add_argument("--reports", type=int, default=10)
    parser.add_argument("--urdu", action="store_true", help="Urdu names (shaped text)")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/report-bench.db"
        app = bench_app(url, overrides={"PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
        with app.app_context():
            rebuild_database()
            demo.seed_demo()
            org = {u.username: u for u in db.session.query(User)}
            at("2026-01-05")
            try:
                if args.urdu:
                    employee_of(org["emp1"]).full_name = "عائشہ خان"
                    db.session.commit()
                case = _whole_year(org)
                case_id, viewer = case.id, org["hr1"]
                walls, cpus, sizes = [], [], []
                for _ in range(args.reports):
                    db.session.expire_all()
                    wall, cpu = time.perf_counter(), time.process_time()
                    report = appraisal_report.generate(viewer, case_id)
                    walls.append(time.perf_counter() - wall)
                    cpus.append(time.process_time() - cpu)
                    sizes.append(len(report.content))
                pages = len(PdfReader(io.BytesIO(report.content)).pages)
            finally:
                clock.reset()
            db.session.remove()
            db.engine.dispose()
    print(f"{args.reports} reports of case #{case_id} ({'Urdu' if args.urdu else 'English'} "
          f"name, {url.split(':', 1)[0]}): {pages} A4 pages, "
          f"{statistics.median(sizes) / 1024:.0f} KiB")
    print(f"  wall per report: median {statistics.median(walls) * 1000:.0f} ms, "
          f"max {max(walls) * 1000:.0f} ms")
    print(f"  CPU per report:  median {statistics.median(cpus) * 1000:.0f} ms, "
          f"max {max(cpus) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
