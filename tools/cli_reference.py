#!/usr/bin/env python3
"""Write docs/reference/cli.md from the CLI itself: every command's `--help`, walked from kit.cli.main's group.

    .venv/bin/python tools/cli_reference.py            # rewrite the page
    .venv/bin/python tools/cli_reference.py --check    # exit 1 if the page is not what --help says

Each command gets its usage and description as `--help` prints them (click's own formatter, 100 columns), then one
heading per option with the option's help record (the text `--help` shows beside it, defaults and variables
included), so every flag has an anchor the topic pages link to (`cli.md#--max-abs-bias`: `run`'s flags come
first, so theirs are the plain anchors). `-h, --help` is listed once, under the group. `step`, `slurm` and `ray`
take the run flags too: their sections list only the options whose help differs from `run`'s, and name the run
flags they share. tests/unit/test_docs.py fails when the committed page and this output differ.
"""

from __future__ import annotations

import html
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "reference" / "cli.md"
REGENERATE = ".venv/bin/python tools/cli_reference.py"
WIDTH = 100  # the group's max_content_width: what a terminal of 100 columns or more shows
SHARES_RUN_FLAGS = ("step", "slurm", "ray")

if str(ROOT) not in sys.path:  # run as a script from anywhere: the kit is the checkout's
    sys.path.insert(0, str(ROOT))

from tools.generated import page_main  # noqa: E402  (run as a script, the checkout goes on the path first)


def walk(cmd: click.Command, ctx: click.Context) -> Iterator[click.Context]:
    """The context of `cmd` and of every command below it: `run` first, then the others in --help's order."""
    yield ctx
    if isinstance(cmd, click.Group):
        names = cmd.list_commands(ctx)
        for name in sorted(names, key=lambda n: (n != "run", n)):
            sub = cmd.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                yield from walk(sub, click.Context(sub, info_name=name, parent=ctx))


def description(ctx: click.Context) -> str:
    """Usage, help text and epilog exactly as `--help` prints them, without the option list."""
    formatter = ctx.make_formatter()
    ctx.command.format_usage(ctx, formatter)
    ctx.command.format_help_text(ctx, formatter)
    if isinstance(ctx.command, click.Group):
        ctx.command.format_commands(ctx, formatter)
    ctx.command.format_epilog(ctx, formatter)
    return formatter.getvalue().rstrip()


def records(ctx: click.Context) -> list[tuple[str, str]]:
    """(option, help) as --help lists them, the help unwrapped."""
    out = []
    for param in ctx.command.get_params(ctx):
        record = param.get_help_record(ctx)
        if record is not None and (ctx.parent is None or "--help" not in record[0]):  # -h, --help: said once
            out.append((record[0], " ".join(record[1].split())))
    return out


def option_name(opts: str) -> str:
    """The long name an option's heading shows: `--ref-dir` of "--ref-dir PATH", `--out` of "-o, --out FILE"."""
    names = [n for n in re.split(r"[ ,/]+", opts) if n.startswith("--")]
    return names[0] if names else opts.split()[0]


def prose(text: str) -> str:
    """Help text as Markdown: code spans kept, HTML's special characters escaped outside them."""
    parts = text.split("`")
    return "`".join(p if i % 2 else html.escape(p, quote=False) for i, p in enumerate(parts))


def section(ctx: click.Context, run_records: dict[str, str]) -> list[str]:
    path = ctx.command_path.removeprefix("ensemble-kit").strip()
    title = f"`ensemble-kit {path}`" if path else "`ensemble-kit`"
    lines = [f"## {title}", "", "```text", description(ctx), "```", ""]
    own, shared = [], []
    for opts, text in records(ctx):
        same = path in SHARES_RUN_FLAGS and run_records.get(opts) == text
        (shared if same else own).append((opts, text))
    for opts, text in own:
        name = option_name(opts)
        lines += [f"### `{name}`", "", f"`{opts}`: {prose(text)}" if text else f"`{opts}`", ""]
    if shared:
        names = ", ".join(f"`{option_name(o)}`" for o, _ in shared)
        lines += [f"And these options of [`run`](#ensemble-kit-run), with the same meaning: {names}.", ""]
    return lines


def render() -> str:
    from kit.cli.main import cli

    settings = {**cli.context_settings, "terminal_width": WIDTH, "max_content_width": WIDTH}
    root = click.Context(cli, info_name="ensemble-kit", **settings)  # as cli.make_context would: -h, --help
    contexts = list(walk(cli, root))
    run_ctx = next(c for c in contexts if c.command_path == "ensemble-kit run")
    run_records = dict(records(run_ctx))
    lines = ["# Command-line reference", "",
             "Every command's `--help`, generated from the CLI by `tools/cli_reference.py`: the usage and "
             "description as `--help` prints them, then each option with the text `--help` shows beside it. "
             "Do not edit this page by hand; after changing a command or an option, regenerate it with "
             f"`{REGENERATE}` (a test fails while the page and `--help` differ). The guides say when to use "
             "what: start from the [README](../../README.md).", "",
             "| command | what it does |", "|---|---|"]
    for ctx in contexts[1:]:
        path = ctx.command_path.removeprefix("ensemble-kit ").strip()
        summary = ctx.command.get_short_help_str(limit=200)
        lines.append(f"| [`{path}`](#ensemble-kit-{path.replace(' ', '-')}) | {prose(summary)} |")
    lines.append("")
    for ctx in contexts:
        lines += section(ctx, run_records)
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    return page_main(argv, __doc__, PAGE, render, "--help says", REGENERATE)


if __name__ == "__main__":
    sys.exit(main())
