"""The troubleshooting page's list of refusals is read from the code (tools/troubleshooting.py, tools/reading.py;
tests/unit/test_docs.py checks the committed page is what it writes): here, that the reading finds every refusal
and reads it as the user does, on a small kit of its own and against the real one counted another way. And the
encoders page has a heading for every ffmpeg message probe.py has a hint for and every reason detect.py gives.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.conftest import ROOT
from tools import troubleshooting
from tools.reading import Refusal, refusals

ERRORS = '''
class KitError(Exception):
    def __init__(self, message, hint="", retry_helps=None):
        super().__init__(message)
class InputError(KitError):
    pass
class Failed(InputError):
    pass
'''
MODULE = '''
from kit.errors import Failed, InputError
from kit.limits import LIMIT
class Gone(InputError):
    def __init__(self, path):
        super().__init__(f"{path} vanished while the kit read it", hint="put it back and rerun")
def check(path, n, files):
    hint = f"give at least {LIMIT} frames, or drop {files[0].name}"
    if n < LIMIT:
        raise InputError(f"{path}: {n} frame(s), fewer than {LIMIT}", hint=hint)
    raise Gone(path)
def refuse(text, refused, hint):
    raise InputError(f"{refused}: {text!r}", hint=hint)
def parse(text, exc):
    refuse(text, "--seeds is not a list", "e.g. --seeds 0,1")
    refuse(text, "--cqs is not a list", hint="e.g. --cqs 20,30")
    raise InputError(str(exc), hint=exc.hint)
def tool(name, code):
    raise Failed(f"{name} exited with {code}" + (" (killed)" if code < 0 else ""), "see `the step log`")
'''
OTHER = '''
LIMIT = 8
class Event:
    pass
class Failed(Event):
    pass
def note(x):
    return Failed(f"{x} is a failure of another kind, with words of its own")
'''


def test_a_kit_of_its_own_is_read_as_its_user_reads_it(tmp_path: Path) -> None:
    """Placeholders for what the run fills in, a constant's value, a hint kept in a variable, a class that makes its
    own words, a helper given its words by two callers (listed once per caller); a refusal raised again, the call of
    a class with words of its own, and a class that shares an error's name but is none are not listed."""
    for name, source in {"errors": ERRORS, "a": MODULE, "limits": OTHER}.items():
        (tmp_path / "kit").mkdir(exist_ok=True)
        (tmp_path / "kit" / f"{name}.py").write_text(source)
    assert set(refusals(tmp_path)) == {
        Refusal("kit/a.py", "Gone.__init__", 6, "<path> vanished while the kit read it", "put it back and rerun"),
        Refusal("kit/a.py", "check", 10, "<path>: <n> frame(s), fewer than 8",
                "give at least 8 frames, or drop <files.name>"),
        Refusal("kit/a.py", "parse", 15, "--seeds is not a list: '<text>'", "e.g. --seeds 0,1", via="refuse"),
        Refusal("kit/a.py", "parse", 16, "--cqs is not a list: '<text>'", "e.g. --cqs 20,30", via="refuse"),
        Refusal("kit/a.py", "tool", 19, "<name> exited with <code>[ (killed)]", "see `the step log`"),
    }


def test_the_page_writes_what_it_read() -> None:
    """By area in AREAS' order, one entry per message and hint with every place that raises them; a message is one
    code span whatever backticks it holds; a hint keeps its code, its placeholders and flags are code (the site
    would make `--` a dash), and Markdown's own characters stay plain text."""
    found = [Refusal("kit/a.py", "tool", 19, "<name> says `x`", "see `the step log` or *args, `--force` <path>_2"),
             Refusal("kit/corpus/merge.py", "merge", 3, "no inputs", ""),
             Refusal("kit/corpus/inputs.py", "read", 5, "no inputs", ""),
             Refusal("kit/cli/run.py", "f", 1, "no inputs", "")]
    lines = troubleshooting.listing(found)
    assert lines[lines.index("### Merging, tarballs and corpora"):] == [
        "### Merging, tarballs and corpora", "",
        "- `no inputs` (`kit.corpus.inputs:read`, `kit.corpus.merge:merge`)\\", "  hint: *(none)*", "",
        "### A run, its steps and `status`", "",
        "- `no inputs` (`kit.cli.run:f`)\\", "  hint: *(none)*", "",
        "### Other", "",
        "- `` <name> says `x` `` (`kit.a:tool`)\\",
        "  hint: see `the step log` or \\*args, `--force` `<path>`\\_2", ""]


def kit_messages() -> set[tuple[str, str]]:
    """The longest piece of literal text (12 characters or more) of each message given to KitError or a class
    derived from it (by name) in kit/: counted without tools/reading.py."""
    trees = {p.relative_to(ROOT).as_posix(): ast.parse(p.read_text()) for p in sorted((ROOT / "kit").rglob("*.py"))}
    bases = {node.name: {b.id for b in node.bases if isinstance(b, ast.Name)}
             for tree in trees.values() for node in ast.walk(tree) if isinstance(node, ast.ClassDef)}
    errors = {"KitError"}
    while grown := {name for name, of in bases.items() if of & errors} - errors:
        errors |= grown
    found = set()
    for module, tree in trees.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in errors \
                    and node.args and not isinstance(node.args[0], ast.Name):
                parts = [" ".join(n.value.split()) for n in ast.walk(node.args[0])
                         if isinstance(n, ast.Constant) and isinstance(n.value, str)]
                if len(longest := max(parts, key=len, default="").strip()) >= 12:
                    found.add((module, longest))
    return found


def test_every_message_of_the_kit_is_on_the_page() -> None:
    """Each message's own words are on the generated page: a refusal the reading would miss fails here."""
    page = " ".join(troubleshooting.render().split())
    messages = kit_messages()
    assert len(messages) > 250
    missing = sorted(f"{module}: {words}" for module, words in messages if words not in page)
    assert not missing, "messages of the kit the troubleshooting page does not list:\n" + "\n".join(missing)


# --- the encoders page ----------------------------------------------------------------------------------------

ENCODERS_PAGE = ROOT / "docs" / "encoders.md"
MIN_SHARED, COVER = 20, 0.6


def normal(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip(" :;,.'\"()-`").lower()


def literal(node: ast.expr) -> str:
    """A reason's text, … for each part known only at run time."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(literal(v) if isinstance(v, ast.Constant) else "…" for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return literal(node.left) + literal(node.right)
    return "…"


def setup_reasons(source: str) -> set[str]:
    """The reasons kit/platforms/detect.py gives an encoder no device set-up for (HwSetup's third argument): the
    words `detect` and the prereqs table print for a hardware encoder that cannot run here."""
    return {text for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "HwSetup"
            and len(node.args) == 3 and len(normal((text := literal(node.args[2])).replace("…", ""))) >= 6}


def has_heading(reason: str, heads: list[str]) -> bool:
    """One heading holds most (COVER, at least MIN_SHARED characters in a row) of the reason's longest literal part."""
    from difflib import SequenceMatcher

    longest = max((normal(p) for p in reason.split("…")), key=len)
    need = min(len(longest), max(MIN_SHARED, round(COVER * len(longest))))
    return any(SequenceMatcher(None, longest, head, autojunk=False).find_longest_match().size >= need for head in heads)


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
    assert not has_heading("a made-up reason no vendor section explains at all", [normal(h) for h in heads])
