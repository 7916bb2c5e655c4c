"""The docs say what the CLI does: the flag reference is --help itself (sphinx-click renders docs/reference/cli.md
from the CLI when the site is built), every flag a page names exists, every kit command a page shows parses, and the
README stays a guide of at most 150 lines (CONTRIBUTING.md's table)."""

from __future__ import annotations

import os
import re
import shlex

import click
import pytest

from tests.conftest import ROOT


def test_the_cli_reference_is_the_cli_s_own() -> None:
    """The site renders docs/reference/cli.md from the click group the kit runs, every command nested (sphinx-click);
    the pages link `run`'s flags by name (`cli.md#--max-abs-bias`, docs/conf.py's labels), which the strict build
    checks. Checked as the rule, not as the page's words: one `click` directive, naming the very group the console
    script runs, under the script's own name, with every subcommand rendered in full; and no option written out by
    hand beside it (a copy that could differ from --help)."""
    import importlib
    import tomllib

    from docs import conf
    from kit.cli.main import cli

    page = (ROOT / "docs" / "reference" / "cli.md").read_text()
    directives = re.findall(r"^\.\. click:: ([\w.]+):(\w+)\n((?:   :\w+:.*\n)*)", page, flags=re.M)
    assert len(directives) == 1, f"docs/reference/cli.md holds {len(directives)} click directives, not one"
    module, attr, option_lines = directives[0]
    options = dict(re.findall(r"^   :(\w+):\s*(.*)$", option_lines, flags=re.M))
    assert getattr(importlib.import_module(module), attr) is cli, f"{module}:{attr} is not the group the kit runs"
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    script = next(name for name, target in scripts.items() if target.startswith("kit.cli.main:"))
    assert options.get("prog") == script, f"the reference calls the kit {options.get('prog')!r}, its script {script!r}"
    assert options.get("nested") == "full", "every subcommand rendered whole (:nested: full), not listed"
    written = set(FLAG.findall(page)) - {"--help"}
    assert not written, f"options written out by hand on the rendered page: {sorted(written)}"
    assert "sphinx_click" in conf.extensions and isinstance(cli, click.Group) and "run" in cli.commands


PAGES = [ROOT / "README.md", ROOT / "ARCHITECTURE.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").rglob("*.md"))]
# flags of other tools the pages name, by tool: anything else spelled --like-this must be a kit option
FOREIGN = {
    "sbatch": ("--account", "--array", "--dependency", "--kill-on-invalid-dep", "--option"),  # --option=value
    "pip": ("--no-build-isolation", "--no-compile", "--no-deps", "--require-hashes", "--retries", "--timeout",
            "--find-links", "--no-index", "--only-binary", "--platform"),
    "make_tarball.py": ("--wheels", "--platform", "--python"),
    "install.py": ("--test",), "tools/": ("--check", "--write"),
    "pytest": ("--dist", "--durations"), "docker": ("--device",), "uv": ("--generate-hashes",),
    "ray start": ("--temp-dir", "--head", "--port"), "sphinx-build": ("--keep-going",),
    "ffmpeg's configure": ("--enable-libvmaf",), "libvmaf": ("--pool", "--tiny-model-verify"),
    "cosign": ("--bundle", "--certificate-identity", "--certificate-oidc-issuer", "--yes"),
    "vmaf-tune": ("--calibration-sidecar", "--vmaf-model", "--with-uncertainty"), "ab-av1": ("--min-vmaf",),
    "Av1an": ("--probing-stat",),
    "bench/": ("--as-kit-0", "--baseline-kit", "--clips", "--export", "--kernels", "--no-per-job-kit", "--rounds",
               "--seconds", "--upstream"),
}
# files a command shown needs and only its reader has (a libvmaf model of their own): only their absence is excused
USERS_FILES = ("vmaf_v1.0.16_3d0h.json",)
FLAG = re.compile(r"(?<![\w#-])--[a-z][a-z0-9-]*")


def kit_options() -> set[str]:
    from kit.cli.main import cli

    names = {"--help", "-h", "--version"}
    stack: list[click.Command] = [cli]
    while stack:
        cmd = stack.pop()
        names.update(o for p in cmd.params for o in (*p.opts, *p.secondary_opts))
        if isinstance(cmd, click.Group):
            stack.extend(cmd.commands.values())
    return names


def test_the_readme_is_a_guide() -> None:
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= 150, f"the README has {len(lines)} lines: a topic page under docs/ takes the rest"


def test_every_flag_the_pages_name_exists() -> None:
    known = kit_options() | {f for flags in FOREIGN.values() for f in flags}
    unknown = {(page.relative_to(ROOT).as_posix(), flag) for page in PAGES
               for flag in FLAG.findall(page.read_text()) if flag not in known}
    assert not unknown, f"flags no kit command has (a foreign tool's go in FOREIGN): {sorted(unknown)}"


def kit_commands(text: str) -> list[str]:
    """The `ensemble-kit …` command lines of a page's code blocks (fenced, or indented by four spaces), each
    continuation joined and the shell's part (a pipe, a redirection, a comment) cut off."""
    lines, fenced, joined = [], False, ""
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if not (fenced or line.startswith("    ")):
            continue
        joined += line.strip().removesuffix("\\")
        if line.rstrip().endswith("\\"):
            continue
        command, joined = re.split(r"\s(?:\||2?>|#|&&|;)\s?", joined)[0], ""
        for prefix in (".venv/bin/ensemble-kit ", "ensemble-kit "):
            if command.startswith(prefix) and "…" not in command:
                lines.append(command.removeprefix(prefix))
    return lines


def parse(args: list[str]) -> None:
    """Parse a command line as the CLI would, its options converted and checked, nothing run."""
    from kit.cli.main import cli

    ctx = click.Context(cli, info_name="ensemble-kit", **cli.context_settings)
    cmd: click.Command = cli
    while isinstance(cmd, click.Group) and args and args[0] in cmd.commands:
        name = args.pop(0)
        cmd = cmd.commands[name]
        ctx = click.Context(cmd, info_name=name, parent=ctx) if isinstance(cmd, click.Group) else \
            cmd.make_context(name, args, parent=ctx)
    assert not isinstance(cmd, click.Group), f"no command: {args}"


def test_every_kit_command_the_pages_show_parses(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("KIT_")]:
        monkeypatch.delenv(name)
    shown = [(page.relative_to(ROOT).as_posix(), line) for page in PAGES for line in kit_commands(page.read_text())]
    assert len(shown) > 20
    bad = []
    for page, line in shown:
        try:
            parse(shlex.split(line))
        except click.ClickException as exc:
            if not any(f"{mine}: does not exist" in exc.format_message() for mine in USERS_FILES):
                bad.append(f"{page}: ensemble-kit {line}: {exc.format_message()}")
    assert not bad, "\n".join(bad)


def test_the_release_is_the_kits_version() -> None:
    """The newest release in CHANGELOG.md is kit.__version__ (pyproject.toml reads it from there), and the README's
    tarball name spells it: a version bump without its entry, or an entry without the bump, fails."""
    from kit import __version__

    releases = re.findall(r"^## (\S+)(.*)$", (ROOT / "CHANGELOG.md").read_text(), flags=re.M)
    # the entry being written ("## Unreleased", "## 2.2.0 — unreleased") is no release yet
    newest = next(r for r, rest in releases if r != "Unreleased" and "unreleased" not in rest.lower())
    assert newest == __version__, f"CHANGELOG.md's newest release is {newest}, kit.__version__ is {__version__}"
    assert 'version = { attr = "kit.__version__" }' in (ROOT / "pyproject.toml").read_text()
    named = set(re.findall(r"ensemble-kit-(\d+\.\d+\.\d+)", (ROOT / "README.md").read_text()))
    assert named == {__version__}, f"the README names the kit tarball of {sorted(named)}, not {__version__}"


def test_every_corpus_column_is_explained() -> None:
    """docs/reference/files.md's corpus table names every column of the corpus schema (`a0`..`a3` names a range)."""
    from kit.corpus.schema import COLUMNS

    text = (ROOT / "docs" / "reference" / "files.md").read_text()
    section = text[text.index("## `shard.parquet`"):text.index("\n## ", text.index("## `shard.parquet`") + 1)]
    named = set(re.findall(r"^\| `([a-z0-9_]+)`", section, flags=re.M))
    named |= set(re.findall(r", `([a-z0-9_]+)`", section))
    for stem, lo, hi in re.findall(r"`([a-z_]+)(\d)`\.\.`\1(\d)`", section):
        named |= {f"{stem}{i}" for i in range(int(lo), int(hi) + 1)}
    missing = [c for c in COLUMNS if c not in named]
    assert not missing, f"corpus columns docs/reference/files.md does not explain: {missing}"


def test_the_kit_tarball_holds_what_its_pages_link_to() -> None:
    """Every relative link of a Markdown page the kit tarball ships reaches a file it ships: the README and docs/
    read in the untarred kit as on a forge."""
    import make_tarball

    shipped = {p.relative_to(ROOT).as_posix() for p in make_tarball.collect(ROOT)}
    link = re.compile(r"\]\(([^)\s#]+)(?:#[^)\s]*)?\)")
    broken = sorted((page, target) for page in shipped if page.endswith(".md")
                    for target in link.findall((ROOT / page).read_text())
                    if "://" not in target and not target.startswith("mailto:")
                    and os.path.normpath(os.path.join(os.path.dirname(page), target)) not in shipped
                    and not (ROOT / os.path.dirname(page) / target).is_dir())
    assert not broken, f"links of shipped pages to files the tarball lacks (make_tarball.py's OPTIONAL): {broken}"


def slug(heading: str) -> str:
    """A heading's anchor as GitHub and MyST (docs/conf.py's myst_heading_anchors) spell it."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """The anchors of a Markdown page: its headings' slugs and its rows' `<a id="…"></a>` (bench/README.md's)."""
    return {slug(h) for h in re.findall(r"^#+ (.+)$", text, flags=re.M)} | set(re.findall(r'<a id="([^"]+)"></a>',
                                                                                          text))


def test_every_figure_link_reaches_a_row_of_the_benchmarks() -> None:
    """A link to bench/README.md#X from the README, the CHANGELOG, ARCHITECTURE.md, CONTRIBUTING.md or a page of docs/
    names a row (or heading) the benchmarks have: a quoted figure leads to the row that shows it, on a forge and in the
    kit tarball as on the site (whose strict build checks its own pages alike)."""
    rows = anchors((ROOT / "bench" / "README.md").read_text())
    assert {"default-run", "suite", "set-up"} <= rows
    pages = [*PAGES, ROOT / "CHANGELOG.md"]
    broken = sorted((p.relative_to(ROOT).as_posix(), a) for p in pages
                    for a in re.findall(r"bench/README\.md#([^)\s]+)\)", p.read_text()) if a not in rows)
    assert not broken, f"links to anchors bench/README.md does not have: {broken}"
    assert slug("The suite as CI runs it (`TESTS_TIMELINE`, issue 88 item 1; 2026-11-28 and 29)") == \
        "the-suite-as-ci-runs-it-tests_timeline-issue-88-item-1-2026-11-28-and-29"
