"""Server processes collect the young generation rarely and freeze what exists at startup."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import gc
from assembly.app_factory import app_for_service
from mychat.gc_tuning import YOUNG_THRESHOLD, tune_for_server
from mychat.settings import Settings

app_for_service("all", Settings(data_dir=sys.argv[1]))
tune_for_server()
assert gc.get_threshold()[0] == YOUNG_THRESHOLD, gc.get_threshold()
# The apps, the schema and the modules are out of every later collection.
assert gc.get_freeze_count() > 50_000, gc.get_freeze_count()
print("ok")
"""


def test_a_server_process_freezes_its_startup_objects(tmp_path: object) -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import sys\n" + PROBE, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
