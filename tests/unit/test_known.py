"""The one door of free text (kit.infra.known, issue 89): it keeps what it can classify and replaces the rest. Drawn
lines of the box (tests/faults.py's box_line: paths, users, hosts, e-mail addresses, environment values, addresses,
arbitrary bytes and unicode, each around tokens) keep no token, wherever in a kit's sentence they are said; every
text the kit's own source spells passes unchanged, as do the names the lead is sent anyway."""

from __future__ import annotations

import ast
import os
from pathlib import Path, PurePath

from hypothesis import given, settings
from hypothesis import strategies as st

from kit.infra.known import NOT_SENT, known, vocabulary
from kit.infra.shown import Places, Spelled, heard
from tests.conftest import ROOT
from tests.faults import box_line

# what the kit's source spells that the door changes: pieces of a regular expression, never said to anyone
NOT_SAID = {")+)(?::[0-9]*)?(?:/"}


def kit_literals() -> list[str]:
    """Every printable string literal of kit/ (an f-string's literal pieces each)."""
    found = []
    for path in sorted((ROOT / "kit").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.append(node.value)
            elif isinstance(node, ast.JoinedStr):
                found += [v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str)]
    return [text for text in found if text.isprintable()]


def test_the_kit_s_own_words_pass_the_door_unchanged() -> None:
    literals = kit_literals()
    changed = sorted({text for text in literals if known(text) != text} - NOT_SAID)
    assert len(literals) > 15_000 and changed == [], changed[:20]


def test_the_issue_s_two_cases() -> None:
    assert known("ffmpeg failed (exit 1) encoding b.y4m at libx264 cq 37: /home/SECRETUSER9/.ffmpeg/"
                 "libx264-fast.ffpreset: No such file or directory") == \
        f"ffmpeg failed (exit 1) encoding b.y4m at libx264 cq 37: {NOT_SENT}: No such file or directory"
    assert known("not a readable video (/home/SECRETLOOK9/.config/ffmpeg/decoder.cfg: Permission denied)") == \
        f"not a readable video ({NOT_SENT}: Permission denied)"


def test_what_is_known_by_kind() -> None:
    kept = ["[h264 @ 0x55d5c1a2b3c0] mmco: unref short failure", "frame=   25 fps=0.0 q=-1.0 size=176x144",
            "done in 3.4 s at 2026-11-28T19:59:44Z", "results-b1-20261128T195944Z.tar.gz",
            "n9.0.2-17-g2a571b6068-20260930", "yuv420p10le 10bit 1080p 25fps cq037 seed3 fold2",
            "crashed (SIGSEGV)", "[Errno 13] Permission denied", "corpus 3fa9c2d1e0ab… changed", "/proc/cpuinfo"]
    assert [known(t) for t in kept] == kept
    replaced = {"/home/ann": NOT_SENT, "~/bin/ffmpeg:": f"{NOT_SENT}:", "C:\\Users\\x": NOT_SENT,
                "see https://example.org/a": f"see {NOT_SENT}", "mail a@b.org now": f"mail {NOT_SENT} now",
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
    assert places.text(Spelled(PurePath(clip), ": seen by Zq8who")) == f"[ref-dir]/a.y4m: seen by {NOT_SENT}"


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
