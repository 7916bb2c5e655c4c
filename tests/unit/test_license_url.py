"""--model-license-url takes what RFC 3986 calls a URI, with an http(s) scheme and a host (issue 40, item 6): a
character a URI cannot hold is named with its percent-encoding, at the flag (exit 2) and again in the bundle's
check of the registry rows (kit.bundle.registry.license_url_problem is the one rule)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from kit.bundle.registry import license_url_problem
from kit.cli.main import cli

BASE = "https://example.org/licenses/"
REFUSED = {
    '"': "%22", "<": "%3C", ">": "%3E", " ": "%20", "\\": "%5C", "{": "%7B", "}": "%7D", "|": "%7C", "^": "%5E",
    "`": "%60", "é": "%C3%A9", "\t": "%09", "\u202e": "%E2%80%AE",
}
MALFORMED = {
    "ftp://example.org/L": "not an absolute http(s) address",
    "example.org/L.html": "not an absolute http(s) address",
    "https:///L.html": "not an absolute http(s) address",
    "https://example.org/a%zz": "a % not followed by two hex digits",
    "https://example.org/a#b#c": "not an absolute http(s) URI as RFC 3986 writes one",
    "https://example.org/[a]": "not an absolute http(s) URI as RFC 3986 writes one",
    "https://example.org:80a/L": "not an absolute http(s) URI as RFC 3986 writes one",
    "https://[::1/L": "not an absolute http(s) address",
}
ACCEPTED = ["https://spdx.org/licenses/BSD-3-Clause.html", "http://example.org/a%20b.txt?lang=en#s2",
            "https://[2001:db8::1]:8443/L", "HTTPS://Example.ORG/L", "https://user@example.org/~x/L-1_2.txt",
            "https://example.org/a(b)!$&'*+,;=:@/c"]


@pytest.mark.parametrize("char", sorted(REFUSED))
def test_a_character_no_uri_holds_is_refused_at_the_flag_with_its_encoding(char: str,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    def started(*_: object) -> None:
        raise AssertionError("the run started: the address was accepted")

    monkeypatch.setattr("kit.cli.run.guarded", started)
    res = CliRunner().invoke(cli, ["run", "--model-license-url", f"{BASE}a{char}b.html"])
    assert res.exit_code == 2 and "Traceback" not in res.output
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 1 and "--model-license-url" in errors[0] and "RFC 3986" in errors[0], res.stderr
    assert f"percent-encode it ({REFUSED[char]})" in errors[0]
    assert "hint: " in res.stderr


@pytest.mark.parametrize(("url", "why"), sorted(MALFORMED.items()))
def test_a_malformed_address_is_refused(url: str, why: str) -> None:
    problem = license_url_problem(url)
    assert problem is not None and why in problem, problem


@pytest.mark.parametrize("url", ACCEPTED)
def test_an_address_as_rfc_3986_writes_it_is_taken(url: str) -> None:
    assert license_url_problem(url) is None
    params = cli.commands["run"].make_context("run", ["--model-license-url", url]).params
    assert params["model_license_url"] == url
