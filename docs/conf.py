"""Sphinx configuration of the documentation site: the Markdown pages of docs/ read by MyST, the furo theme, and
docs/reference/cli.md rendered from the CLI by sphinx-click.

    .venv/bin/pip install -r requirements-docs.txt
    .venv/bin/sphinx-build -W --keep-going -b html docs build/site     # what CI runs: any warning fails

The README, the CHANGELOG, ARCHITECTURE.md, CONTRIBUTING.md and bench/README.md are pages of the site too
(docs/index.md, changelog.md, architecture.md, contributing.md, benchmarks.md include them). Their links, and the
links of the pages in docs/ to them, are written for the repository (they work on a forge and in the kit tarball);
`include-read` and `source-read` below point each one at the page the site has for it, so the strict build checks
every link of every file; a table row's anchor (`<a id="row"></a>`, as bench/README.md's rows have) becomes MyST's
own target there. Nothing is fetched at build time, and furo loads no web fonts.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

from kit import __version__

project = "ensemble-kit"
release = version = __version__
copyright = "the ensemble-kit authors"
extensions = ["myst_parser", "sphinx_click"]  # sphinx_click: docs/reference/cli.md, from the CLI
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build"]
myst_heading_anchors = 4  # GitHub's slugs, so `page.md#a-heading` works on a forge and here alike
myst_enable_extensions = ["attrs_inline"]  # `[]{#row}`: a table row's anchor (bench/README.md's `<a id="row"></a>`)
html_theme = "furo"
html_title = f"ensemble-kit {__version__}"
html_static_path: list[str] = []
html_show_sourcelink = False
html_copy_source = False
suppress_warnings: list[str] = []

# repository file -> the page of the site that shows it (the rest of docs/ maps onto itself)
ROOT_PAGES = {"README.md": "index.md", "CHANGELOG.md": "changelog.md", "ARCHITECTURE.md": "architecture.md",
              "CONTRIBUTING.md": "contributing.md", "bench/README.md": "benchmarks.md"}
LINK = re.compile(r"(\]\()([^)\s#]+\.md)(#[^)\s]*)?(\))")
ANCHOR = re.compile(r'<a id="([a-z0-9-]+)"></a>')  # a row's anchor as a forge reads it; the site's is MyST's span


def site_path(repo_path: str) -> str | None:
    """Where the site keeps a repository file, relative to docs/; None when it is no page of the site."""
    if repo_path in ROOT_PAGES:
        return ROOT_PAGES[repo_path]
    return repo_path.removeprefix("docs/") if repo_path.startswith("docs/") else None


def rewrite(text: str, repo_file: str, site_dir: str) -> str:
    """Point the relative Markdown links of `repo_file` (a path in the repository) at the site's pages, as a
    document in `site_dir` (relative to docs/) resolves them; fenced code is left alone."""
    out, fenced = [], False
    for line in text.splitlines(keepends=True):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        if not fenced:
            line = ANCHOR.sub(r"[]{#\1}", LINK.sub(lambda m: _relinked(m, repo_file, site_dir), line))
        out.append(line)
    return "".join(out)


def _relinked(m: re.Match[str], repo_file: str, site_dir: str) -> str:
    target = m.group(2)
    if "://" in target:
        return m.group(0)
    page = site_path(posixpath.normpath(posixpath.join(posixpath.dirname(repo_file), target)))
    if page is None:
        return m.group(0)  # left as written: the build says it is missing
    return f"{m.group(1)}{posixpath.relpath(page, site_dir or '.')}{m.group(3) or ''}{m.group(4)}"


def _include_read(app, relative_path: Path, parent_docname: str, content: list[str]) -> None:
    repo_file = posixpath.normpath(posixpath.join("docs", Path(relative_path).as_posix()))
    content[0] = rewrite(content[0], repo_file, posixpath.dirname(parent_docname))


def _source_read(app, docname: str, source: list[str]) -> None:
    source[0] = rewrite(source[0], f"docs/{docname}.md", posixpath.dirname(docname))


# the CLI's help is plain text where sphinx-click reads reStructuredText: `code` is made a literal, and what
# reStructuredText would read as markup (`*` of a glob, `KIT_`'s trailing `_`) is escaped; directives and their
# fields are left as they are
MARKUP = re.compile(r"`([^`]+)`|(\*)|(_)(?!\w)")
CLICK_EVENTS = ("sphinx-click-process-description", "sphinx-click-process-options", "sphinx-click-process-epilog")


def _plain_help(app, ctx, lines: list[str]) -> None:
    kept = []
    for line in lines:
        if line.strip() == ":default: ````":
            continue  # an empty default: nothing to say, and four backticks are no literal
        if not line.lstrip().startswith((".. ", ":")):
            line = MARKUP.sub(lambda m: f"``{m.group(1)}``" if m.group(1) else f"\\{m.group(0)}", line)
        kept.append(line)
    lines[:] = kept


def _run_flag_labels(app, doctree) -> None:
    """Each flag of `run` a label of its own name, so `cli.md#--max-abs-bias` (the anchor the pages link to) reaches
    the option: MyST resolves a page's anchor to its headings or its labels, not to an option."""
    std = app.env.get_domain("std")
    for (program, option), (docname, anchor) in list(std.progoptions.items()):
        if program == "ensemble-kit-run" and docname == app.env.docname:  # Sphinx joins a program's words by `-`
            std.anonlabels[option] = docname, anchor


def _shown_envvars(app, ctx, lines: list[str]) -> None:
    """A flag the command refuses (hidden from its --help, kit.cli.cluster) is left out of its variables too: its
    block would point at an option the page does not show."""
    hidden = {f"-{p.name}-{p.envvar}:" for p in ctx.command.params if getattr(p, "hidden", False) and p.envvar}
    kept, skipping = [], False
    for line in lines:
        if line.startswith(".. _"):
            skipping = any(line.endswith(h) for h in hidden)
        if not skipping:
            kept.append(line)
    lines[:] = kept


def setup(app) -> dict[str, bool]:
    envvars = "sphinx-click-process-envars"  # the name sphinx-click 6 emits (it registers "…-envvars", never emitted)
    if envvars not in app.events.events:
        app.add_event(envvars)
    app.connect(envvars, _shown_envvars)
    app.connect("include-read", _include_read)
    app.connect("source-read", _source_read)
    for event in CLICK_EVENTS:
        app.connect(event, _plain_help)
    app.connect("doctree-read", _run_flag_labels)
    return {"parallel_read_safe": True}
