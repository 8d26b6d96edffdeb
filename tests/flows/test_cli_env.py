import os
import subprocess
import sys

from tests.conftest import ROOT

PROBE = """
import flows.cli  # as the newsetl command does, before anything else
from prefect.settings import get_current_settings
print(get_current_settings().server.analytics_enabled)
"""


def test_the_cli_turns_prefects_analytics_off_before_prefect_is_imported():
    """A new user's shell has no PREFECT_* variables: Prefect must still see analytics (and its telemetry
    service, which logged an error on every offline run) turned off."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "DO_NOT_TRACK"))}
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "False"
