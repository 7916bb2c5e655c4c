"""A path as the lead may see it (kit.infra.shown; issue 69, item 1): a root's tag by path parts, never by text (a
sibling `clips old` is not under `clips`), a Spelled text spelled twice from its parts (a shell word, ffmpeg's filter
escaping, a nested option), what a child said read by the words it was given and the box's alone (issue 96), an
exception's message left out unless the kit built it from known parts; and no site that logs a path spells it into
plain text."""

from __future__ import annotations

import ast
import os
import pickle
import sys
from pathlib import Path, PurePath

import pytest

from kit.bundle.values import COMMAND, PATH
from kit.errors import InputError
from kit.infra.shown import (
    Places,
    Root,
    Spelled,
    heard,
    path_at,
    program,
    said_of,
    shell_line,
    shown_traceback_lines,
    spelled_document,
)
from kit.infra.shown import (
    found as found_paths,
)
from kit.media.libvmaf import Teacher, build_libvmaf_graph
from tests.conftest import ROOT

BASE = Path(os.fsdecode(b"/data/Ann's \xff box"))
OUT, REFS, CACHE, KIT, HOME, CWD = (BASE / n for n in ("runs/box", "clips", "cache", "kit", ".", "work"))


def places() -> Places:
    return Places.of(OUT, REFS, CACHE, KIT)


@pytest.mark.parametrize(("path", "shown"), [
    (REFS / "a.y4m", "[ref-dir]/a.y4m"), (REFS, "[ref-dir]"), (OUT / "02_corpus" / "x", "[out-dir]/02_corpus/x"),
    (Path(f"{REFS} old") / "a.y4m", "[elsewhere]"),  # a sibling whose name goes on: its own folder
    (Path(f"{REFS}2/a.y4m"), "[elsewhere]"), (CACHE / "demo" / "d.y4m", "[cache]/demo/d.y4m"),
    (KIT / "kit" / "x.py", "[kit]/kit/x.py"), (BASE / "else" / "f.json", "[elsewhere]"),
    (Path("/usr/bin/ffmpeg"), "[elsewhere]/ffmpeg"), (Path("/opt/ff q'$[x]/ffmpeg"), "[elsewhere]/ffmpeg"),
    # below home or the current folder only: the folders there are the user's (issue 75, item 1)
    (HOME / "tools-X" / "ffmpeg", "[elsewhere]/ffmpeg"), (CWD / "grp-X" / "g.json", "[elsewhere]"),
])
def test_a_path_is_shown_under_the_deepest_root_it_lies_in(path: Path, shown: str) -> None:
    assert places().show(path) == shown


def test_a_folder_under_no_root_is_named_by_no_name(tmp_path: Path) -> None:
    """An earlier --ref-dir, a model's folder, the current folder, a file elsewhere: its own name is the box's (a
    program's alone is what the lead needs: `[elsewhere]/ffmpeg`)."""
    (tmp_path / "old clips").mkdir()
    (tmp_path / "old clips" / "a.y4m").write_bytes(b"")
    elsewhere = Places.of(ref_dir=tmp_path / "new")
    assert elsewhere.show(tmp_path / "old clips") == "[elsewhere]"
    assert elsewhere.show(tmp_path / "old clips" / "a.y4m") == "[elsewhere]"


def test_a_changed_path_setting_is_said_as_paths(tmp_path: Path) -> None:
    from kit.steps.runner import _setting_changes

    (tmp_path / "old clips").mkdir()
    new = Places.of(ref_dir=tmp_path / "new clips")
    (change,) = _setting_changes("ref_dir", str(tmp_path / "old clips"), str(tmp_path / "new clips"))
    assert new.text(change) == "setting ref_dir: [elsewhere] -> [ref-dir]"
    assert str(change) == f"setting ref_dir: {tmp_path}/old clips -> {tmp_path}/new clips"  # as the box's log says


def test_an_out_dir_inside_the_kit_is_the_out_dir(tmp_path: Path) -> None:
    inner = Places.of(out_dir=tmp_path / "kit" / "runs" / "b", kit=tmp_path / "kit")
    assert inner.show(tmp_path / "kit" / "runs" / "b" / "run.json") == "[out-dir]/run.json"
    assert inner.show(tmp_path / "kit" / "kit" / "cli") == "[kit]/kit/cli"
    assert inner.shown(tmp_path / "kit").root is Root.KIT


def test_a_link_to_a_root_is_shown_by_where_it_leads(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "via").symlink_to(tmp_path / "real")
    assert Places.of(ref_dir=tmp_path / "real").show(tmp_path / "via" / "a.y4m") == "[ref-dir]/a.y4m"
    assert Places.KEPT.show(tmp_path / "via" / "a.y4m") == str(tmp_path / "via" / "a.y4m")


def test_links_are_resolved_before_the_roots_are_matched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The kit run through a link to its folder from a current folder (issue 75, item 1): its python, a link itself,
    is the kit's by its folders' place ([kit]/.venv/bin/python), never [cwd]/kitlink-X/…, nor the interpreter it
    leads to; a clip that links out of --ref-dir is the --ref-dir's by its own name; a root given through a link is
    that root; and no folder below home or the current folder is named."""
    kit, home = tmp_path / "kit", tmp_path / "home-X"
    (kit / ".venv" / "bin").mkdir(parents=True)
    (kit / ".venv" / "bin" / "python").symlink_to(sys.executable)
    cwd = home / "work-X"
    cwd.mkdir(parents=True)
    (cwd / "kitlink-X").symlink_to(kit)
    (home / "clips-X").mkdir()
    (home / "clips-X" / "a.y4m").symlink_to(tmp_path / "far-X" / "t.y4m")  # out of --ref-dir (dangling: no matter)
    (cwd / "refs-via-X").symlink_to(home / "clips-X")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(cwd)
    places = Places.of(ref_dir=Path("refs-via-X"), kit=kit)
    assert places.show(Path("kitlink-X/.venv/bin/python")) == "[kit]/.venv/bin/python"
    assert places.show(cwd / "kitlink-X" / "kit" / "__main__.py") == "[kit]/kit/__main__.py"
    assert places.show(home / "clips-X" / "a.y4m") == "[ref-dir]/a.y4m"
    assert places.show(Path("refs-via-X") / "b.y4m") == "[ref-dir]/b.y4m"
    assert places.show(tmp_path / "far-X" / "t.y4m") == "[elsewhere]"
    assert places.show(cwd) == places.show(home) == "[elsewhere]"
    assert places.show(home / "tools-X" / "ffmpeg") == places.show("tools-X/ffmpeg") == "[elsewhere]/ffmpeg"


def test_a_command_is_spelled_as_it_runs_and_as_the_lead_sees_it() -> None:
    log = OUT / "o'ut: [1]" / "vmaf.json"
    graph = build_libvmaf_graph(176, 144, "yuv420p", log, 2, Teacher("m", str(REFS / "m;odel.json"), "ab" * 32),
                                fps="25")
    assert isinstance(graph, Spelled)
    assert "log_path=/data/Ann\\\\\\'s" in graph  # as ffmpeg reads it: both levels of escaping
    shown = graph.shown(places())
    assert "log_path=\\[out-dir\\]/o\\\\\\'ut\\\\: \\[1\\]/vmaf.json" in shown  # the same escaping, of the tag
    assert "model=path=\\[ref-dir\\]/m\\;odel.json" in shown and "Ann" not in shown
    line = shell_line([program(Path("/usr/bin/ffmpeg")), "-i", REFS / "it's.y4m", "-lavfi", graph])
    assert line.shown(places()).startswith("'[elsewhere]/ffmpeg' -i '[ref-dir]/it'\"'\"'s.y4m' -lavfi '")
    # a folder spelled as plain text, not given as a path: shown as it is, and no kind of the catalogue admits it
    plain = shell_line(["/usr/bin/ffmpeg", "-y"]).shown(places())
    assert plain == "/usr/bin/ffmpeg -y" and not COMMAND.admits(plain)
    assert "\\xff" in line and "Ann" not in line.shown(places())  # as it runs: bash's $'…' for the byte
    again = pickle.loads(pickle.dumps(line))
    assert isinstance(again, Spelled) and again == line and again.shown(places()) == line.shown(places())


def test_the_consumers_window_commands_are_spelled_like_the_jobs() -> None:
    """The corpus step's sample jobs (issue 70) run commands of their own: their encodes, the windows' scorings and
    the libvmaf logs are paths, shown as the lead may see them in the logs the tarball sends."""
    from kit.media.argv import build_window_encodes_argv, build_window_scores_argv
    from kit.platforms.encoders import get_spec

    work = OUT / "02_corpus" / "work" / "j"
    windows, encoded = [(0, 5), (10, 15)], [work / "first-w00.mp4", work / "first-w01.mp4"]
    logs = [work / "first-w00.json", work / "first-w01.json"]
    clip = ["-i", Spelled(REFS / "a.y4m")]
    teacher = Teacher("m", str(REFS / "m;odel.json"), "ab" * 32)
    for argv in (build_window_encodes_argv(str(KIT / "ffmpeg"), clip, get_spec("libx264"), 30, windows, encoded),
                 build_window_scores_argv(str(KIT / "ffmpeg"), encoded, clip, windows, 176, 144, "yuv420p", logs, 1,
                                          teacher, fps="25")):
        line = shell_line(argv)
        assert str(line) == shell_line([str(a) for a in argv]).spell(str)  # as it runs: the same words
        shown = line.shown(places())
        assert "Ann" not in shown and shown.startswith("'[kit]/ffmpeg' ") and "[out-dir]/02_corpus/work/j/first-w01" \
            in shown, shown
    assert "log_path=\\[out-dir\\]/02_corpus/work/j/first-w01.json" in shown
    assert "model=path=\\[ref-dir\\]/m\\;odel.json" in shown


def test_plain_text_never_becomes_spelled() -> None:
    text = Spelled("at ", REFS)
    assert type(f"{text} and more") is str and type("x" + text) is str and type(text + "x") is str
    assert type(text[:3]) is str
    # plain text as it is: a path in it is no path the kit was given, and no kind of the catalogue admits it
    assert places().text(f"{REFS}/a.y4m") == f"{REFS}/a.y4m" and not PATH.admits(f"{REFS}/a.y4m")


def test_a_child_is_heard_by_the_words_it_was_given() -> None:
    enc = OUT / "02_corpus" / "work" / "j" / "enc.h264"
    graph = build_libvmaf_graph(176, 144, "yuv420p", OUT / "v.json", 1, fps="25")
    argv = ["ffmpeg", "-i", Spelled(REFS / "a.y4m"), "-lavfi", graph, Spelled(enc)]
    said = (f"Input #0, from '{REFS}/a.y4m':\n{enc}: Permission denied\nbad graph: {graph}\n"
            f"{os.fsencode(str(REFS)).decode('utf-8', 'replace')}/a.y4m: twice")  # as a caller decodes the bytes
    # the paths the kit gave it found as paths (the box's log keeps them), the whole of it the box's alone
    found = found_paths(said, argv).shown(places())
    assert found.splitlines()[:2] == ["Input #0, from '[ref-dir]/a.y4m':", "[out-dir]/02_corpus/work/j/enc.h264: "
                                                                           "Permission denied"]
    assert "Ann" not in found and "[ref-dir]/a.y4m: twice" in found
    assert heard(said, argv).shown(places()) == "" and heard(said, argv, lead=": ").startswith(": Input #0")
    assert Spelled("ffmpeg failed", heard(said, argv, lead=": ")).shown(places()) == "ffmpeg failed"
    plain = said.rsplit("\n", 1)[0]
    assert heard(plain, argv) == plain  # as it runs: the text as it was said


def test_where_argv_holds_a_path() -> None:
    assert path_at(Spelled(PurePath("clips"))) == 0 and path_at(Spelled("--ref-dir=", PurePath("c"))) == 10
    assert path_at("clips") is None and path_at(Spelled("x")) is None


def test_an_exception_is_said_by_what_the_kit_built() -> None:
    built = InputError(Spelled(REFS / "a.y4m", ": not a clip"))
    plain = InputError(f"{REFS}/a.y4m: not a clip")
    assert said_of(built, places()) == "[ref-dir]/a.y4m: not a clip"
    assert "Ann" not in said_of(plain, places()) and "withheld" not in said_of(plain, places())
    assert said_of(plain, places()) == ""  # a text the kit did not build: the box's alone
    gone = FileNotFoundError(2, "No such file or directory", str(OUT / "x.json"))
    # the system's words (translated where the locale is another) the box's; its error number and the path typed
    assert said_of(gone, places()) == "[Errno 2]: [out-dir]/x.json"
    try:
        raise plain
    except InputError as exc:
        lines = shown_traceback_lines(exc, Places.of(kit=ROOT))
    # the kit's frames by file and line, its type by name: no function's name, no code, no message
    assert lines[-1] == "kit.errors.InputError" and not any("Ann" in line or "raise" in line for line in lines), lines


# the calls that write a line to a step log or say it (kit.steps.runner.StepLog, Context.say)
LOGGERS = {"log", "say", "note"}
PATHISH = ("path", "dir", "folder", "root", "file", "corpus", "stamp", "aside", "cache", "where")


def logged_fstrings(source: str, where: str) -> list[str]:
    """Each log site of `source` whose text is an f-string formatting a value named like a path (`{store.folder}`)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and node.args and (
                (isinstance(node.func, ast.Attribute) and node.func.attr in LOGGERS)
                or (isinstance(node.func, ast.Name) and node.func.id in LOGGERS))):
            continue
        for part in (p for arg in node.args for p in ast.walk(arg) if isinstance(p, ast.FormattedValue)):
            name = ast.unparse(part.value).lower()
            if any(w in name for w in PATHISH) and "name" not in name and "len(" not in name:
                found.append(f"{where}:{node.lineno}: {{{ast.unparse(part.value)}}}")
    return found


def test_the_scan_finds_a_path_spelled_into_a_log_line() -> None:
    assert logged_fstrings('ctx.log(f"{stamp} is damaged")\nnote(f"{clip.path}: x")\nctx.say("a", f"{n} rows")',
                           "x.py") == ["x.py:1: {stamp}", "x.py:2: {clip.path}"]


def test_no_log_site_spells_a_path_into_plain_text() -> None:
    """A line a step log writes goes to its twin the tarball sends (kit.rundir.RunDir.sent) as it is, unless it is a
    Spelled: a site that names a path builds one (`Spelled("… in ", store.folder)`), never an f-string of it."""
    found = [f for path in sorted((ROOT / "kit").rglob("*.py"))
             if path.parent.name not in ("report", "cli")  # the terminal's and the report's words: no step log
             for f in logged_fstrings(path.read_text(), str(path.relative_to(ROOT)))]
    assert found == []


def test_a_reason_without_its_path_in_front_stays_spelled() -> None:
    from kit.infra.shown import without_prefix

    reason = Spelled(REFS / "a.y4m", ": a symbolic link to ", CACHE / "b.y4m", ", a folder")
    why = without_prefix(reason, f"{REFS / 'a.y4m'}: a symbolic ")
    assert isinstance(why, Spelled) and why == f"link to {CACHE / 'b.y4m'}, a folder"
    assert places().text(why) == "link to [cache]/b.y4m, a folder"
    inside = without_prefix(reason, str(REFS))  # the prefix ends inside a path: plain text, never a cut path
    assert type(inside) is str and inside == "/a.y4m: a symbolic link to " + str(CACHE / "b.y4m") + ", a folder"
    assert without_prefix("plain: x", "plain: ") == "x" and without_prefix(reason, "other") == reason


def test_a_spelled_text_is_kept_in_a_document_with_its_paths(tmp_path: Path) -> None:
    import json

    from kit.infra.invocation import kit_command
    from kit.infra.shown import spelled_from

    clip = REFS / "it's.mp4"
    text = Spelled(clip, ": timed out; fix: ", kit_command("ffmpeg", "-i", clip, REFS / "it's.mkv"))
    doc = json.loads(json.dumps(spelled_document(text, {"clip": clip})))  # as a cache file holds it
    again = spelled_from(doc, {"clip": clip})
    assert isinstance(again, Spelled) and again == text and places().text(again) == places().text(text)
    assert "Ann" not in places().text(again) and "'[ref-dir]/it'\"'\"'s.mkv'" in places().text(again)
    elsewhere = tmp_path / "clips" / "it's.mp4"  # the same clip named another way: its refusal names it so
    assert places().text(spelled_from(doc, {"clip": elsewhere})).startswith("[elsewhere]: timed out")
    assert spelled_from(spelled_document("plain")) == "plain"
    graph = build_libvmaf_graph(176, 144, "yuv420p", OUT / "v.json", 1, fps="25")  # an escape it cannot name
    with pytest.raises(ValueError, match="escape"):
        spelled_document(Spelled("x ", graph))
    with pytest.raises(ValueError):
        spelled_from({"spelled": [{"what": 1}], "escape": None})
    for damaged in ([], {}, 1):  # a damaged cache file is a ValueError its reader asks again for, never a TypeError
        with pytest.raises(ValueError):
            spelled_from({"spelled": [], "escape": damaged})


def test_a_clip_changed_and_a_sample_jobs_failure_send_no_folder() -> None:
    """A clip changed mid-run is said of its path as the kit built it; the corpus log's line of the sample jobs that
    failed sends a built message with its paths shown and withholds a plain one (its text may hold any path)."""
    from kit.corpus.children import ClipChanged
    from kit.corpus.jobs import Job
    from kit.corpus.samples import samples_failed
    from kit.errors import ToolError
    from kit.media.refs import Clip

    clip = Clip(str(REFS / "a.y4m"), "a", "y4m", 176, 144, "25/1", "yuv420p", 60, "ab" * 32)
    changed = ClipChanged(Job(clip, "libx264", 30), "its modification time changed")
    assert str(changed.message).startswith(f"{REFS / 'a.y4m'} changed while the run was going (its modification")
    assert said_of(changed, places()).startswith("[ref-dir]/a.y4m changed while the run was going")
    line = samples_failed([changed, ToolError("x")], 3)
    assert line.startswith(f"2 of 3 sample jobs failed; first: {REFS / 'a.y4m'} ")
    assert places().text(line).startswith("2 of 3 sample jobs failed; first: [ref-dir]/a.y4m changed") and \
        "Ann" not in places().text(line)
    plain = samples_failed([ToolError(f"{REFS}/a.y4m: gone")], 1)
    assert str(plain) == f"1 of 1 sample jobs failed; first: {REFS}/a.y4m: gone; the step stops, and a rerun of the " \
                         "same command tries them again"  # the box's
    assert places().text(plain) == "1 of 1 sample jobs failed; first: ; the step stops, and a rerun of the same " \
                                   "command tries them again"
    with pytest.raises(ValueError, match="withheld"):
        spelled_document(plain)
