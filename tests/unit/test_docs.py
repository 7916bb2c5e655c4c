"""The docs say what the CLI does: the flag reference is --help itself (tools/cli_reference.py), every flag a page
names exists, every kit command a page shows parses, and the README stays a guide (STYLE.md, point 15)."""

from __future__ import annotations

from tests.conftest import ROOT
from tools import cli_reference


def test_the_cli_reference_is_what_help_says() -> None:
    page = cli_reference.PAGE.read_text()
    assert page == cli_reference.render(), (
        f"docs/reference/cli.md is not what --help says: regenerate it with {cli_reference.REGENERATE}")
    assert (ROOT / "docs" / "reference" / "cli.md") == cli_reference.PAGE
