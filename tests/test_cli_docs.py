"""Every CLI command and option is documented in README.md (sqlite-utils style)."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from flows.cli import main
from flows.cli_release import release, report

README = Path(__file__).resolve().parent.parent / "README.md"


def _commands() -> dict[str, click.Command]:
    # release and report live in flows/cli_release.py; include them even before main registers them
    return {**main.commands, "release": release, "report": report}


def _options() -> list[tuple[str, str]]:
    out = []
    for name, cmd in sorted(_commands().items()):
        for param in cmd.params:
            if isinstance(param, click.Option):
                out += [(name, opt) for opt in param.opts if opt.startswith("--")]
    return out


@pytest.mark.parametrize("name", sorted(_commands()))
def test_command_in_readme(name):
    assert f"newsetl {name}" in README.read_text(encoding="utf-8"), f"`newsetl {name}` is not in README.md"


@pytest.mark.parametrize(("command", "option"), _options())
def test_option_in_readme(command, option):
    lines = [ln for ln in README.read_text(encoding="utf-8").splitlines() if f"newsetl {command}" in ln]
    assert any(option in ln for ln in lines), f"`newsetl {command} {option}` is not documented on its command's line"


def _quick_start() -> list[str]:
    text = README.read_text(encoding="utf-8")
    block = text.split("## Quick start", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    return [ln.strip() for ln in block.strip().splitlines() if ln.strip() and not ln.startswith("#")]


def test_quick_start_has_two_commands_and_ci_runs_the_test_one():
    setup, test = _quick_start()
    assert "sync --frozen" in setup and "newsetl run" in setup
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert test in ci.splitlines(), ".ci/run must call the README's test command verbatim"


def test_release_and_report_registered_on_main():
    assert main.commands.get("release") is release
    assert main.commands.get("report") is report
