"""The one door of free text (kit.infra.known, issue 89): it keeps what it can classify and replaces the rest. Drawn
lines of the box (tests/faults.py's box_line: paths, users, hosts, e-mail addresses, environment values, addresses,
arbitrary bytes and unicode, each around tokens) keep no token, wherever in a kit's sentence they are said; every
text the kit's own source spells passes unchanged, as do the names the lead is sent anyway."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path, PurePath

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kit.infra.known import NOT_SENT, known, vocabulary
from kit.infra.shown import Places, Spelled, heard
from tests.conftest import ROOT
from tests.faults import box_line

sys.path.insert(0, str(ROOT / "tools"))
import spoken as spoken_tool

# what the kit's source spells that the door changes: pieces of a regular expression, never said to anyone
NOT_SAID = {")+)(?::[0-9]*)?(?:/"}


def kit_literals() -> list[str]:
    """Every printable string literal of kit/ but its docstrings (an f-string's literal pieces each)."""
    return [text for text in spoken_tool.literals() if text.isprintable()]


def test_the_table_of_the_kit_s_words_is_current() -> None:
    """kit/infra/spoken.py is what tools/spoken.py writes of kit/ as it is (after a change to a literal: run it)."""
    assert (ROOT / "kit" / "infra" / "spoken.py").read_text(encoding="utf-8") == spoken_tool.table(), \
        "kit/infra/spoken.py is stale: run `.venv/bin/python tools/spoken.py`"


def test_the_kit_s_own_words_pass_the_door_unchanged() -> None:
    literals = kit_literals()
    changed = sorted({text for text in literals if known(text) != text} - NOT_SAID)
    assert len(literals) > 10_000 and changed == [], changed[:20]


def test_the_issue_s_two_cases() -> None:
    assert known("ffmpeg failed (exit 1) encoding b.y4m at libx264 cq 37: /home/SECRETUSER9/.ffmpeg/"
                 "libx264-fast.ffpreset: No such file or directory") == \
        f"ffmpeg failed (exit 1) encoding b.y4m at libx264 cq 37: {NOT_SENT}: No such file or directory"
    assert known("not a readable video (/home/SECRETLOOK9/.config/ffmpeg/decoder.cfg: Permission denied)") == \
        f"not a readable video ({NOT_SENT}: Permission denied)"


def test_what_is_known_by_kind() -> None:
    kept = ["[h264 @ 0x55d5c1a2b3c0] mmco: unref short failure", "frame=   25 fps=0.0 q=-1.0 size=176x144",
            "done in 3.4 s at 2026-11-28T19:59:44Z", "results-mybox-20261128T195944Z.tar.gz",
            "n9.0.2-17-g2a571b6068-20260930", "yuv420p10le 10bit 1080p 25fps cq037 seed3 fold2",
            "crashed (SIGSEGV)", "[Errno 13] Permission denied", "corpus 3fa9c2d1e0ab… changed", "/proc/cpuinfo"]
    assert [known(t) for t in kept] == kept
    replaced = {"/home/ann": NOT_SENT, "~/bin/ffmpeg:": f"{NOT_SENT}:", "C:\\Users\\x": NOT_SENT,
                "see https://example.org/a": f"see {NOT_SENT}", "from a@b.org now": f"from {NOT_SENT} now",
                "user Zq7werty at h1": f"user {NOT_SENT} at h1", "Jürgen": NOT_SENT, "张伟": NOT_SENT,
                "x\x00y": NOT_SENT, "(/srv/Ann Lee/clips/a.mp4)": f"({NOT_SENT})",
                "Zq7a Zq7b\nZq7c ok": f"{NOT_SENT}\n{NOT_SENT} ok"}
    assert {t: known(t) for t in replaced} == replaced


@settings(max_examples=200)
@given(lines=st.lists(box_line(), min_size=1, max_size=4), before=st.sampled_from(kit_literals()[:2000]))
def test_no_drawn_word_of_the_box_passes_the_door(lines: list[tuple[bytes, list[str]]], before: str) -> None:
    said = "\n".join(line.decode("utf-8", "surrogateescape") for line, _ in lines)
    for text in (said, f"{before}: {said}", f"ffmpeg failed (exit 1) encoding a.y4m at libx264 cq 25: {said}"):
        out = known(text)
        assert not [t for _, tokens in lines for t in tokens if t.lower() in out.lower()], (text, out)
        assert known(out) == out  # the door's own words pass it


def test_the_names_the_lead_is_sent_anyway_are_known(tmp_path: Path) -> None:
    """The names of the files in --ref-dir (sent as `[ref-dir]/NAME`) and the box id, in free text as in a path."""
    refs = tmp_path / "refs"
    refs.mkdir()
    for name in ("Qx7interview take 2.mp4", "zz\n[04 verdict]\nzz.y4m"):
        (refs / name).write_bytes(b"")
    places = Places.of(tmp_path / "out", refs, names=("Wq9lab",))
    text = "encoding Qx7interview take 2.mp4 at libx264 cq 25 on box Wq9lab; zz\n[04 verdict]\nzz.y4m; Vv8other"
    assert places.known(text) == text.replace("Vv8other", NOT_SENT)
    assert "Qx7interview" not in known(text)  # without the names: not known
    assert Places.KEPT.known(text) == text  # --keep-paths: as it is


def test_a_child_s_words_beside_the_path_it_was_given(tmp_path: Path) -> None:
    """A path the kit gave a child is shown by its root; the child's own words around it through the door."""
    clip = tmp_path / "refs" / "a.y4m"
    places = Places.of(tmp_path / "out", clip.parent)
    said = heard(f"{clip}: Invalid data found when processing input (/home/Zq8who/.config/x.cfg)", [clip])
    assert places.text(said) == f"[ref-dir]/a.y4m: Invalid data found when processing input ({NOT_SENT})"
    assert places.text(Spelled(PurePath(clip), ": said by Zq8who")) == f"[ref-dir]/a.y4m: said by {NOT_SENT}"


def test_the_vocabulary_is_the_kit_s_own() -> None:
    """Every word of kit/ and the OS's messages, none of a user's home or the tests' secrets."""
    words = vocabulary()
    assert {"libx264", "yuv420p", "permission", "denied", "sigsegv", "mmco"} <= words
    assert not {os.path.basename(os.path.expanduser("~")).lower(), "zq7sekritwort", "secretuser9"} & words - {"root"}


def test_a_record_s_fields_of_free_text_pass_the_door_as_it_is_sent() -> None:
    """A field declared SAID (what a child or the system said: a test encode's failure, nvidia-smi's, an environment
    value, a model file's own words) passes the door wherever it lies in a sent record; every other field is sent as
    the kit made it."""
    import dataclasses

    from kit.infra.records import Record, said_record
    from kit.model.teacher_fn import TeacherFunction
    from kit.platforms.detect import HostFamily
    from kit.platforms.probe import ProbeResult
    from kit.platforms.signals import HostSignals

    said = {(cls.__name__, f.name) for cls in (ProbeResult, HostSignals, HostFamily, TeacherFunction)
            for f in dataclasses.fields(cls) if f.metadata.get("said")}
    assert said == {("ProbeResult", "reason"), ("ProbeResult", "hint"), ("ProbeResult", "retest"),
                    ("ProbeResult", "tested"), ("HostSignals", "nvidia_smi"), ("HostSignals", "libva_driver_name"),
                    ("HostFamily", "evidence"), ("TeacherFunction", "reason")}
    secret = "/home/Zq9ann/.nv: Permission denied"
    probe = ProbeResult("h264_nvenc", False, f"Cannot load libcuda.so.1 ({secret})", device="Zq9gpu")
    fn = TeacherFunction("vmaf_v0.6.1", False, 0, 0.01, reason=f"has a feature option that is not a number ({secret})")

    @dataclasses.dataclass(frozen=True)
    class Holder(Record):  # as prereqs.json holds its probes, and a verdict its teacher's function
        probes: dict[str, ProbeResult]
        functions: tuple[TeacherFunction, ...]

    sent = said_record(Holder({"h264_nvenc": probe}, (fn,)), known)
    assert sent.functions[0].reason == f"has a feature option that is not a number ({NOT_SENT}: Permission denied)"
    assert sent.probes["h264_nvenc"].reason == f"Cannot load libcuda.so.1 ({NOT_SENT}: Permission denied)"
    assert sent.probes["h264_nvenc"].device == "Zq9gpu" and sent.functions[0].teacher == "vmaf_v0.6.1"  # known kinds
    assert said_record(Holder({}, ()), known) == Holder({}, ())


def test_a_path_is_kept_only_when_the_kit_spells_that_whole_chunk() -> None:
    """A path that a docstring spells (the door's own example) or that only begins as a literal does is replaced,
    its rest after a space too; one a literal spells whole is kept."""
    assert known("/home/Ann Lee/clips") == NOT_SENT
    assert known("cannot open /home/Ann Lee/secret.cfg") == f"cannot open {NOT_SENT}"
    assert known("(/proc/cpuinfo2: denied)") == f"({NOT_SENT}: denied)"
    assert known("reading /proc/cpuinfo") == "reading /proc/cpuinfo"


def test_words_only_the_kit_s_docstrings_and_comments_hold_are_not_its_words() -> None:
    """What the kit tells its readers (docstrings, comments: given names as examples) is no word it says."""
    literal = {w.lower() for text in spoken_tool.literals() for w in re.findall(r"[^\W_]+", text)}
    source = "\n".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "kit").rglob("*.py")))
    only_told = {w.lower() for w in re.findall(r"[^\W_]+", source)} - literal - vocabulary()
    assert {"alice", "ann", "grace"} <= only_told  # the names kit/'s docstrings give as examples
    assert len(only_told) > 1000  # what the door knew before: every word of the source


def test_no_process_reads_the_kit_s_source_to_know_its_words() -> None:
    """The words are a table (kit/infra/spoken.py): the door opens no file of kit/ to know them."""
    script = ("import sys\nfrom kit.infra import known\nopened = []\n"
              "sys.addaudithook(lambda e, a: opened.append(str(a[0])) if e == 'open' else None)\n"
              "known.known('/home/Zq9who: Permission denied at libx264 cq 25')\n"
              "print([p for p in opened if p.endswith('.py')])")
    res = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "[]", res.stdout


# lines a failing ffmpeg prints (its own words, from its sources' messages), each with values of known kinds
FFMPEG_LINES = (
    "Error while decoding stream #0:0: Invalid data found when processing input", "moov atom not found",
    "Output file is empty, nothing was encoded", "Invalid NAL unit size (1234 > 56).",
    "error while decoding MB 3 4, bytestream -5", "Could not find codec parameters for stream 0",
    "Error initializing output stream 0:0 -- Error while opening encoder", "Error submitting a packet to the muxer",
    "Too many packets buffered for output stream 0:0.", "Device creation failed: -22.",
    "Impossible to convert between the formats supported by the filter", "Segmentation fault (core dumped)",
    "concealing 396 DC, 396 AC, 396 MV errors in I frame", "Last message repeated 3 times",
    "Application provided invalid, non monotonically increasing dts to muxer", "Error reinitializing filters!",
    "Unable to find a suitable output format", "Terminating thread with return code -28 (No space left on device)",
)


def test_ffmpeg_s_own_failure_lines_pass_the_door() -> None:
    """ffmpeg's words are no literal of the kit's: FFMPEG_WORDS holds those of its failure lines."""
    assert [line for line in FFMPEG_LINES if known(line) != line] == []


def test_the_ref_dir_is_listed_once_per_places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A log shows thousands of lines: --ref-dir is listed at the first one, not again; a Places made anew lists it."""
    import dataclasses

    from kit.infra import shown

    refs = tmp_path / "refs"
    refs.mkdir()
    (refs / "Qx7first.y4m").write_bytes(b"")
    listed: list[str] = []
    real = os.listdir

    def listdir(path: str) -> list[str]:
        listed.append(path)
        return real(path)

    monkeypatch.setattr(shown.os, "listdir", listdir)
    places = Places.of(tmp_path / "out", refs)
    assert [places.known(f"encoding Qx7first.y4m {i}") for i in range(3)] == [f"encoding Qx7first.y4m {i}"
                                                                              for i in range(3)]
    assert len(listed) == 1 and places == Places.of(tmp_path / "out", refs)
    (refs / "Qx7later.y4m").write_bytes(b"")
    assert places.known("Qx7later") == NOT_SENT and dataclasses.replace(places).known("Qx7later") == "Qx7later"


def test_common_names_and_words_are_never_sent(tmp_path: Path) -> None:
    """Common given names and surnames, a person's words and a home path are none of the kit's words: never sent,
    said alone, in a child's stderr heard beside the clip it was given, in a kit line's withheld part or in a sent
    record's field of free text. The boxes' words the tests draw (tests/faults.py COMMON) are these, each long enough
    for a tarball's scan and a part of no word of the kit's."""
    from kit.infra.records import said_record
    from kit.infra.shown import Withheld
    from kit.platforms.probe import ProbeResult
    from tests.faults import COMMON

    assert {w.lower() for w in COMMON} & vocabulary() == set()
    assert [w for w in COMMON if len(w) < 8 or any(w.lower() in kit for kit in vocabulary())] == []
    clip = tmp_path / "refs" / "a.y4m"
    places = Places.of(tmp_path / "out", clip.parent)
    for i, name in enumerate(COMMON):
        other = COMMON[i - 1]
        home = f"/home/{name.lower()}/Videos/{other} {name}.mp4"
        lines = [f"{name} {other}", f"user {name.upper()} at {other.lower()}: No such file or directory", home,
                 f"{clip}: {name}'s {other} ({home}: Permission denied)"]
        sent = [known(t) for t in lines] + [places.text(heard(t, [clip])) for t in lines] + [
            places.text(Spelled("encoding ", PurePath(clip), ": ", Withheld(t))) for t in lines] + [
            said_record(ProbeResult("libx264", False, t), places.known).reason for t in lines]
        assert [s for s in sent if name.lower() in s.lower() or other.lower() in s.lower()] == [], sent
        assert sent[3] == f"{NOT_SENT}: {NOT_SENT} ({NOT_SENT}: Permission denied)" and sent[2] == NOT_SENT
