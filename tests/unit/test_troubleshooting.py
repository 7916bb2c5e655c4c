"""Every refusal the kit can raise has a heading in the troubleshooting page (or, for an encoder's, on the encoders
page): the issue-41 rule "one heading per message", checked from the code's side.

A refusal is a call of KitError or one of its subclasses whose message has a literal part. The call's message is
read from the source (ast): its literal fragments, the f-string's fields being the placeholders. It has a heading
when one heading of docs/reference/troubleshooting.md or docs/encoders.md holds, in a row, most (60 %, and at
least 20 characters) of the message's longest literal fragment, and, when that fragment is shorter than 20
characters, every fragment (headings abridge a message with X, N and `…`). A message
built wholly at run time (`raise InputError(msg)`) has no literal part and is not checked here.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from difflib import SequenceMatcher
from pathlib import Path

from tests.conftest import ROOT

PAGES = (ROOT / "docs" / "reference" / "troubleshooting.md", ROOT / "docs" / "encoders.md")
MIN_FRAGMENT, MIN_SHARED, COVER = 6, 20, 0.6
HOLE = "\0"  # an f-string field or any part that is not a literal


def error_classes(trees: Iterable[ast.Module]) -> set[str]:
    """KitError and every class the kit derives from it, however indirectly."""
    bases = {node.name: {b.id for b in node.bases if isinstance(b, ast.Name)}
             for tree in trees for node in ast.walk(tree) if isinstance(node, ast.ClassDef)}
    found = {"KitError"}
    while grown := {name for name, of in bases.items() if of & found} - found:
        found |= grown
    return found


def literal(node: ast.expr) -> str:
    """The message's text with HOLE for each part known only at run time."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(literal(v) if isinstance(v, ast.Constant) else HOLE for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return literal(node.left) + literal(node.right)
    return HOLE


def normal(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip(" :;,.'\"()-`").lower()


def refusals(sources: dict[str, str]) -> set[tuple[str, str]]:
    """(file, message template with … for each placeholder) of every refusal with a literal part."""
    trees = {name: ast.parse(text) for name, text in sources.items()}
    classes = error_classes(trees.values())
    found = set()
    for name, tree in trees.items():
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in classes
                    and node.args):
                continue
            template = re.sub(r"\s+", " ", literal(node.args[0]).replace(HOLE, "…")).strip()
            if fragments(template):
                found.add((name, template))
    return found


def fragments(template: str) -> list[str]:
    return [f for f in (normal(part) for part in re.split(f"[{HOLE}…]", template)) if len(f) >= MIN_FRAGMENT]


def headings(pages: Iterable[str]) -> list[str]:
    """Each heading, and each variant a heading's section lists (a line `Also `…`, `…`.` under it): the same cause
    and fix, said once."""
    found = []
    for page in pages:
        for line in page.splitlines():
            if line.startswith("#"):
                found.append(normal(line.lstrip("#")))
            elif line.startswith(("Also ", "(Also ", "(Or ")):
                found += [normal(code) for code in re.findall(r"`([^`]+)`", line)]
    return found


def has_heading(template: str, heads: list[str]) -> bool:
    """One heading holds most of the message's longest literal fragment (COVER of it, at least MIN_SHARED characters
    in a row): a common ending ("nothing was written") or a phrase of another message does not count. A message whose
    longest fragment is shorter than MIN_SHARED ("--wibble … is not a number") needs a heading that holds every
    fragment, else any heading with the common phrase would do."""
    parts = fragments(template)
    longest = max(parts, key=len)
    need = min(len(longest), max(MIN_SHARED, round(COVER * len(longest))))
    return any(SequenceMatcher(None, longest, head, autojunk=False).find_longest_match().size >= need
               and (len(longest) >= MIN_SHARED or all(part in head for part in parts))
               for head in heads)


def kit_sources() -> dict[str, str]:
    return {p.relative_to(ROOT).as_posix(): p.read_text() for p in sorted((ROOT / "kit").rglob("*.py"))}


def test_every_refusal_has_a_troubleshooting_heading() -> None:
    heads = headings(p.read_text() for p in PAGES)
    missing = sorted(f"{name}: {template}" for name, template in refusals(kit_sources())
                     if not has_heading(template, heads))
    assert not missing, ("refusals without a heading in docs/reference/troubleshooting.md (the words, why, what to "
                         "do; X, N and … for what varies):\n" + "\n".join(missing))


def test_a_new_refusal_without_a_heading_is_found() -> None:
    source = ("class KitError(Exception): ...\nclass InputError(KitError): ...\nclass Odd(InputError): ...\n"
              "def f(x):\n    raise Odd(f'{x}: a refusal nobody wrote up, in words of its own')\n"
              "def g(x):\n    raise InputError(f'no reference clips in {x}')\n"
              "def h(x):\n    raise InputError(x)\n")
    heads = headings([Path(PAGES[0]).read_text()])
    for made_up in ("…: a brand-new failure mode, nothing was written", "--wibble … is not a number",
                    "the quux file is missing: step … has not completed"):
        assert not has_heading(made_up, heads), made_up  # sharing a common phrase with some heading is not enough
    found = refusals({"kit/new.py": source})
    assert found == {("kit/new.py", "…: a refusal nobody wrote up, in words of its own"),
                     ("kit/new.py", "no reference clips in …")}
    assert {template: has_heading(template, heads) for _, template in found} == {
        "…: a refusal nobody wrote up, in words of its own": False, "no reference clips in …": True}


ENCODERS_PAGE = ROOT / "docs" / "encoders.md"


def setup_reasons(source: str) -> set[str]:
    """The literal reasons kit/platforms/detect.py gives an encoder no device set-up for (HwSetup's third argument):
    the words `detect` and the prereqs table print for a hardware encoder that cannot run here."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "HwSetup" \
                and len(node.args) == 3:
            template = re.sub(r"\s+", " ", literal(node.args[2]).replace(HOLE, "…")).strip()
            if fragments(template):
                found.add(template)
    return found


def test_every_encoder_failure_has_its_fix_on_the_encoders_page() -> None:
    """A failed test encode shows ffmpeg's telling line and the hint kit/platforms/probe.py matches to it; each
    known cause (a _HINTS pattern) and each reason detect.py gives names a heading of docs/encoders.md."""
    from kit.platforms.probe import _HINTS

    heads = [line.lstrip("#").strip() for line in ENCODERS_PAGE.read_text().splitlines() if line.startswith("#")]
    unmatched = [pattern for pattern, _ in _HINTS if not any(re.search(pattern, h, re.IGNORECASE) for h in heads)]
    assert not unmatched, f"ffmpeg messages with a hint in probe.py but no heading in docs/encoders.md: {unmatched}"
    reasons = setup_reasons((ROOT / "kit" / "platforms" / "detect.py").read_text())
    assert len(reasons) >= 5
    missing = sorted(r for r in reasons if not has_heading(r, [normal(h) for h in heads]))
    assert not missing, f"reasons detect.py gives with no heading in docs/encoders.md: {missing}"
