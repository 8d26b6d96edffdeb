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


ENTRY_PROBE = """
import sys

class Freed:
    def __del__(self):
        print("teardown", flush=True)

KEPT = Freed()  # freed in the interpreter's teardown
from flows.cli import entry

entry(sys.argv[1:])
"""


def test_the_newsetl_command_keeps_its_exit_code_and_skips_the_interpreters_teardown(tmp_path):
    """`newsetl` (flows.cli:entry) ends its process without the teardown (~1.8 s after a run), with the command's
    own exit code: 0, 1 for a failed command (one error line), 2 for a usage error."""

    def newsetl(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", ENTRY_PROBE, *args], cwd=ROOT, capture_output=True, text=True,
                              timeout=120)  # fmt: skip

    ok = newsetl("--version")
    assert ok.returncode == 0 and [line.split(",")[0] for line in ok.stdout.splitlines()] == ["newsetl"]
    failed = newsetl("query", "select 1", "--warehouse", str(tmp_path / "none"))
    assert failed.returncode == 1 and failed.stdout == ""
    missing = tmp_path / "none"
    assert failed.stderr.splitlines() == [f"newsetl: error: no warehouse at {missing} (run `newsetl run` first)"]
    usage = newsetl("run", "--no-such-option")
    assert usage.returncode == 2 and usage.stdout == "" and "No such option" in usage.stderr


def test_a_file_or_an_unmakeable_folder_as_warehouse_or_out_is_one_line(tmp_path):
    """A file given where a folder goes (or a folder under a file) is refused in one line, exit 2, before anything
    starts; an OSError no check foresaw (a folder that cannot be made) is one line too, exit 1."""
    afile = tmp_path / "afile"
    afile.write_text("")

    def newsetl(*args: str, probe: str = ENTRY_PROBE) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", probe, *args], cwd=tmp_path, capture_output=True, text=True,
                              timeout=120)  # fmt: skip

    for args, line in [
        (("run", "--warehouse", "afile"), f"--warehouse {afile} is not a directory"),
        (("run", "--warehouse", "afile/sub"), f"--warehouse {afile}/sub cannot be made: {afile} is not a directory"),
        (("serve", "--interval", "30", "--warehouse", "afile"), f"--warehouse {afile} is not a directory"),
        (("report", "--out", "afile"), "--out afile is not a directory"),
        (("release", "--version", "1", "--out", "afile/x"), "--out afile/x cannot be made: afile is not a directory"),
    ]:
        out = newsetl(*args)
        assert (out.returncode, out.stdout, out.stderr.splitlines()) == (2, "", [f"newsetl: error: {line}"]), args
    raising = ENTRY_PROBE.replace(
        "from flows.cli import entry",
        "import flows.cli\n\ndef main(*a, **k):\n    raise PermissionError(13, 'Permission denied', '/x/y')\n\n"
        "flows.cli.main = main\nfrom flows.cli import entry",
    )
    out = newsetl("report", probe=raising)
    assert (out.returncode, out.stderr.splitlines()) == (1, ["newsetl: error: Permission denied: /x/y"])
