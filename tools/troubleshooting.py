#!/usr/bin/env python3
"""Write docs/reference/troubleshooting.md from the refusals in the code: every message the kit can stop with.

    .venv/bin/python tools/troubleshooting.py            # rewrite the page
    .venv/bin/python tools/troubleshooting.py --check    # exit 1 if the page is not what the code says

The page is docs/reference/troubleshooting-common.md (the common problems, written by hand) followed by every
refusal: each call of KitError or a class derived from it (InputError, PrereqError, ToolError, ResourceLimit and
the kit's own; kit/ read with ast, nothing imported) with its message and its `hint:` as the user reads them, and
where it is raised (module:function). The list is grouped by area (AREAS: the longest prefix of the module's path
that matches), then by module and line; one message and hint raised in several places is listed once, with each.
tests/unit/test_docs.py fails when the committed page and this output differ: a new refusal is a change of one
file, then a rerun of this tool. reading.py says how a message is read.
"""

from __future__ import annotations

import re
import sys
import textwrap
from itertools import groupby
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "reference" / "troubleshooting.md"
COMMON = ROOT / "docs" / "reference" / "troubleshooting-common.md"
REGENERATE = ".venv/bin/python tools/troubleshooting.py"
# area of the page, in the page's order -> the prefixes of module paths (below kit/) it holds; the longest prefix
# that matches decides (a module named on its own is not its package's); a module none matches goes to OTHER
AREAS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("The teacher", ("platforms/teacher.py", "media/teachers.py", "media/libvmaf.py")),
    ("Set-up, ffmpeg and encoders", ("platforms/", "media/ffmpeg.py", "cli/binaries.py", "cli/ffmpeg.py",
                                     "cli/detect.py", "steps/s01_")),
    ("Reference clips", ("media/", "corpus/names.py")),
    ("One content, one source", ("corpus/contents.py", "corpus/rulings.py", "corpus/regroup.py",
                                 "corpus/dedup.py")),
    ("The corpus step and its jobs", ("corpus/jobs.py", "corpus/oracle.py", "corpus/scheduler.py",
                                      "corpus/shared.py", "corpus/rungs.py", "corpus/depth.py", "corpus/shard.py",
                                      "steps/s02_")),
    ("Clusters: shards, Slurm and Ray", ("cluster/", "cli/cluster.py", "cli/slurm.py", "cli/ray.py", "infra/slurm.py",
                                         "infra/arrays.py", "corpus/split.py", "model/tasks.py", "steps/members.py")),
    ("Merging, tarballs and corpora", ("corpus/", "cli/merge.py", "cli/verify.py", "cli/export.py",
                                       "infra/archive.py", "infra/parquet.py")),
    ("The incumbent", ("model/incumbent",)),
    ("Training and LOSO", ("model/", "steps/s03_")),
    ("The verdict", ("verdict/", "steps/s04_")),
    ("The bundle and its exports", ("bundle/", "steps/s05_")),
    ("A run, its steps and `status`", ("steps/", "rundir.py", "run_full_pipeline.py", "cli/run.py", "cli/status.py")),
    ("Flags, settings and variables", ("cli/", "infra/outside.py", "infra/rules.py", "infra/records.py",
                                       "infra/invocation.py", "steps/settings.py", "steps/records.py")),
    ("Shared folders and paths", ("infra/perms.py", "infra/files.py", "infra/tree")),
    ("Resources and signals", ("infra/", "cli/guard.py")),
)
OTHER = "Other"

if str(ROOT) not in sys.path:  # run as a script from anywhere: the kit is the checkout's
    sys.path.insert(0, str(ROOT))

from tools.generated import page_main  # noqa: E402  (run as a script, the checkout goes on the path first)
from tools.reading import Refusal, refusals  # noqa: E402


def area(module: str) -> str:
    """The area a module's refusals are listed under: the one with the longest prefix of its path."""
    below = module.removeprefix("kit/")
    matches = [(len(prefix), title) for title, prefixes in AREAS for prefix in prefixes if below.startswith(prefix)]
    return max(matches)[1] if matches else OTHER


def code(text: str) -> str:
    """Text as one Markdown code span, whatever backticks it holds."""
    text = " ".join(text.split())
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def prose(text: str) -> str:
    """A hint as Markdown: its `code` kept (when its backticks pair up), each placeholder made code, Markdown's own
    characters escaped in the rest."""
    text = " ".join(text.split())
    parts = text.split("`") if text.count("`") % 2 == 0 else [text.replace("`", "'")]
    return "`".join(p if i % 2 else _escaped(p) for i, p in enumerate(parts))


def _escaped(text: str) -> str:
    """Placeholders and flags as code (the site would make `--` a dash), the rest as plain text."""
    pieces = re.split(r"(<[^<>\s][^<>]*>|(?<![\w-])--[A-Za-z][\w-]*(?:=[^\s,;)]+)?)", text)
    return "".join(f"`{p}`" if i % 2 else _plain(p) for i, p in enumerate(pieces))


def _plain(text: str) -> str:
    text = re.sub(r"([\\*]|<(?=[A-Za-z/!?]))", r"\\\1", text)
    return re.sub(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])", r"\\_", text)  # an `_` inside a word is no emphasis


def entry(same: list[Refusal]) -> list[str]:
    """One message and hint, and every place that raises them."""
    first = same[0]
    places = ", ".join(code(f"{r.module.removesuffix('.py').replace('/', '.')}:{r.where}")
                       + (f" via {code(r.via)}" if r.via else "") for r in same)
    hint = prose(first.hint) if first.hint else "*(none)*"
    return [f"- {code(first.message)} ({places})\\", f"  hint: {hint}"]


def listing(found: list[Refusal]) -> list[str]:
    """The generated part of the page: the areas in AREAS' order, each refusal once."""
    order = [title for title, _ in AREAS] + [OTHER]
    intro = (f"Generated from the code by `tools/troubleshooting.py` ({len(found)} places): each message as the "
             "kit prints it after `error:`, its `hint:`, and where it is raised (module:function; \"via\" names "
             "the function the words are handed to). `<path>` stands for what the run fills in, `[A | B]` for a "
             "choice of words, `[A]` for words said only sometimes. Do not edit this part by hand: a new refusal "
             f"needs only its message and hint in the code, then `{REGENERATE}` (a test fails while the page and "
             "the code differ).")
    lines = ["## Every refusal, by area", "", *textwrap.wrap(intro, 120, break_on_hyphens=False), ""]
    by_area = sorted(found, key=lambda r: (order.index(area(r.module)), r.module, r.line))
    for title, refusals_of in groupby(by_area, key=lambda r: area(r.module)):
        lines += [f"### {title}", ""]
        kept: dict[tuple[str, str], list[Refusal]] = {}
        for refusal in refusals_of:
            kept.setdefault((refusal.message, refusal.hint), []).append(refusal)
        for same in kept.values():
            lines += entry(same)
        lines.append("")
    return lines


def common() -> str:
    """The hand-written top, without the comment that says where it goes."""
    return re.sub(r"\A<!--.*?-->\n+", "", COMMON.read_text(), flags=re.S).rstrip() + "\n"


def render() -> str:
    return common() + "\n" + "\n".join(listing(refusals(ROOT))).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    return page_main(argv, __doc__, PAGE, render, "the code's refusals say", REGENERATE)


if __name__ == "__main__":
    sys.exit(main())
