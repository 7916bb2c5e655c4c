"""What a results tarball may say is a catalogue (issue 96, item 1; kit.bundle.catalogue): every text field of every
record the box sends declares its kind, no kind but the documented names (a clip's file name, a source's, a box id)
admits a secret of the kinds the issue names, each way a child ends is one of the catalogued kinds, the commands the
kit builds reach the lead whole as words the catalogue knows, and what the system says of the box (a device, a
version, a system) is sent in a typed form that holds none of its words."""

from __future__ import annotations

import base64
import dataclasses
import ipaddress
import re
import shlex
import typing
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kit.bundle import catalogue as cat
from kit.bundle import messages, texts, values
from kit.infra import ended, typed
from kit.infra.kinds import Either, Joined, Kind, Names, Template
from kit.infra.records import Record

NAMES = Names(clips=frozenset({"a.y4m", "b 2.mp4"}), sources=frozenset({"a", "b 2"}), boxes=frozenset({"box1"}))
# the kinds that admit what the user named (docs/reference/files.md, "Names"): no other kind admits a drawn secret
NAMED_ROOTS = tuple(cat.ROOTS)


def _kinds() -> list[Kind]:
    """Every kind the catalogue reaches: its documents' and records' shapes, each kind's parts."""
    seen: dict[int, Kind] = {}
    records: set[type] = set()

    def visit(x: object) -> None:
        if isinstance(x, Kind):
            if id(x) not in seen:
                seen[id(x)] = x
                for part in (*getattr(x, "kinds", ()), *(k for _, k in getattr(x, "slots", ()))):
                    visit(part)
                if isinstance(x, Joined):
                    visit(x.kind)
        elif isinstance(x, type) and issubclass(x, Record):
            if x not in records:
                records.add(x)
                visit(texts.record_shape(x))
        elif isinstance(x, texts._Obj):
            for v in x.keys.values():
                visit(v)
            for k, v in x.rest:
                visit(k)
                visit(v)
        elif isinstance(x, dict):
            for k, v in x.items():
                visit(k)
                visit(v)
        elif isinstance(x, list | tuple):
            for v in x:
                visit(v)

    for module in (cat, messages, values):
        for value in vars(module).values():
            if isinstance(value, Kind | dict | list) or (isinstance(value, type) and issubclass(value, Record)):
                visit(value)
    visit([shape for _, shape in cat.DOCUMENTS])
    return list(seen.values())


KINDS = _kinds()


def _holds_a_root(kind: Kind, seen: frozenset[int] = frozenset()) -> bool:
    if kind in NAMED_ROOTS:
        return True
    parts = [*getattr(kind, "kinds", ()), *(k for _, k in getattr(kind, "slots", ()))]
    parts += [kind.kind] if isinstance(kind, Joined) else []
    return any(_holds_a_root(p, seen | {id(kind)}) for p in parts if id(p) not in seen)


CHECKED = [k for k in KINDS if not _holds_a_root(k)]
# what a bare text can be, of those: a kind that is no list of others nor a sentence (a template with words of its
# own admits no text without them), so a draw is checked against these alone, a fixed case against all of CHECKED
_MARKS = re.compile(r"\{\w+\}")
BARE = [k for k in CHECKED if not isinstance(k, Either | Joined)
        and not (isinstance(k, Template) and re.search(r"[A-Za-z]", _MARKS.sub("", k.text)))]


def test_every_text_field_of_a_sent_record_declares_its_kind() -> None:
    """A record's text field declares its kind in kit.bundle.catalogue.FIELDS (a field of no text: its type says it);
    FIELDS names no field a record does not have."""
    records = [k for k in cat.FIELDS if isinstance(k, type) and issubclass(k, Record)]
    for cls in records:
        texts.record_shape_of(cls)  # KeyError naming the field where a field of text declares no kind
        fields = {f.name for f in dataclasses.fields(cls)} | set(cls.WRITTEN)
        declared = {k for k in cat.FIELDS[cls] if isinstance(k, str)}  # a Kind as a key: an object's other keys
        assert declared <= fields, (cls.__name__, declared - fields)
    for _, shape in cat.DOCUMENTS:  # every record a document holds, compiled
        assert texts._compiled(shape) is not None
    assert len(KINDS) > 500 and len(CHECKED) > 400, (len(KINDS), len(CHECKED))


def _text_field(cls: type[Record]) -> bool:
    hints = typing.get_type_hints(cls)
    return any("str" in str(hints[f.name]) for f in dataclasses.fields(cls))


def test_a_record_with_a_text_field_the_catalogue_does_not_know_is_refused() -> None:
    @dataclasses.dataclass(frozen=True)
    class Said(Record):
        what: str = ""

    with pytest.raises(KeyError, match=r"Said\.what: a field that may hold text declares no kind"):
        texts.record_shape_of(Said)
    assert _text_field(Said)


# -- secrets of the kinds the issue names, drawn at every kind ---------------------------------------------------
_WORD = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=3, max_size=10)
# an error of a system in a non-English locale (glibc's de, fr, es, ja strerror texts), with a word of the box
TRANSLATED = ("Keine Berechtigung", "Datei oder Verzeichnis nicht gefunden", "Kein Speicherplatz mehr auf dem Gerät",
              "Aucun fichier ou dossier de ce type", "Permission non accordée", "No existe el fichero o el directorio",
              "そのようなファイルやディレクトリはありません")


@st.composite
def secrets(draw: st.DrawFn) -> str:
    word = draw(_WORD)
    shapes = {
        "ipv4": lambda: str(ipaddress.IPv4Address(draw(st.integers(1 << 24, (1 << 32) - 1)))),
        "ipv6": lambda: str(ipaddress.IPv6Address(draw(st.integers(1 << 64, (1 << 128) - 1)))),
        # 40 to 62 hex digits: a key of 64 is a sha256's form, which a field of a digest the kit computed holds
        "hex": lambda: draw(st.binary(min_size=20, max_size=31)).hex(),
        "base64": lambda: base64.b64encode(draw(st.binary(min_size=9, max_size=30))).decode(),
        "email": lambda: f"{word.lower()}@{draw(_WORD).lower()}.example.org",
        "glued": lambda: f"{draw(st.sampled_from(['i', '-i', 'o']))}/home/{word.lower()}/video/b.mp4",
        "unrecognized": lambda: f"Unrecognized option 'i/home/{word.lower()}/video/b.mp4'",
        "env": lambda: f"{draw(st.sampled_from(['HOME', 'USER', 'LIBVA_DRIVER_NAME']))}={word}",
        "translated": lambda: f"{draw(st.sampled_from(TRANSLATED))}: {word}",
        # a word of the box (a name, a token): none of the kit's own words, which kinds of its lists admit
        "word": lambda: draw(st.sampled_from("ijklmowyzIJKLMOWYZ")) + draw(
            st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=7, max_size=11)),
        "hidden": lambda: f".{word}.mp4",
    }
    return shapes[draw(st.sampled_from(sorted(shapes)))]()


@given(st.lists(secrets(), min_size=8, max_size=8))
def test_no_kind_admits_a_secret(drawn: list[str]) -> None:
    """Every kind but the documented names: an address, a key, a token, an e-mail, a path glued to an option letter,
    an environment's value, a translated error, a word and a hidden file's name are each none of its texts."""
    for secret in drawn:
        admitted = [k.name for k in BARE if k.admits(secret, NAMES)]
        assert admitted == [], (secret, admitted)


def test_the_kinds_of_a_word_are_the_kit_s_own() -> None:
    """The issue's cases, each as it was sent before: refused by every kind the catalogue checks."""
    for secret in ("10.1.2.3", "192.168.10.20", "Unrecognized option 'i/home/lee/video/b.mp4'", "lee",
                   "3f786850e387550fdab836ed7e6dc881de23001b", "Elizabeth", "invoices"):
        assert [k.name for k in CHECKED if k.admits(secret, NAMES)] == [], secret


# -- the kit's own words -----------------------------------------------------------------------------------------
def _options() -> set[str]:
    import click

    from kit.cli.main import cli

    found: set[str] = set()
    todo: list[click.Command] = [cli]
    while todo:
        command = todo.pop()
        found |= {o for p in command.params if isinstance(p, click.Option) for o in (*p.opts, *p.secondary_opts)}
        if isinstance(command, click.Group):
            todo += list(command.commands.values())
    return found


def test_the_catalogue_knows_each_option_of_the_cli() -> None:
    """A command the kit prints (a fix, a next step, run.json's argv) is checked word by word: each option of the
    CLI is one of values.CLI_OPTIONS, and no option there is one the CLI lost."""
    options = _options()
    assert options - set(values.CLI_OPTIONS) == set(), "add them to kit.bundle.values.CLI_OPTIONS"
    assert set(values.CLI_OPTIONS) - options - {"--help", "--version"} == set()


@pytest.mark.parametrize("kind", list(ended.Kind), ids=lambda k: k.name)
def test_every_way_a_child_ends_is_a_catalogued_kind(kind: ended.Kind) -> None:
    """Each kind of kit.infra.ended (the list kit.corpus.children and kit.infra.proc classify into) is sent as it
    is said, its slots filled; another text is not a failure."""
    slots = set(kind.slots)
    said = ended.Ended(kind, code=3 if "code" in slots else None, signal=9 if "signal" in slots else None,
                       seconds=12 if "seconds" in slots else None,
                       cap="KIT_TIMEOUT_S" if "cap" in slots else None).said()
    assert values.FAILURE.admits(said), said
    assert not values.FAILURE.admits(f"{said}: lee"), said
    assert not values.FAILURE.admits("Conversion failed!")


def test_the_list_of_ends_holds_the_child_box_kinds() -> None:
    """Two kinds issue 98's stall and stop detection needs, named as the other helper agreed."""
    assert ended.Kind.STOPPED_OUTSIDE.value == "stopped by a signal from outside"
    assert ended.Ended(ended.Kind.NO_FRAMES_FOR, seconds=40).said() == "no frames for 40 s"


def _argvs(refs: Path, out: Path, cache: Path, ffmpeg: Path) -> list[list[str]]:
    from kit.infra.shown import spelled_path
    from kit.media import argv
    from kit.media.containers import intermediate_path
    from kit.media.libvmaf import DEFAULT_TEACHER
    from kit.platforms.encoders import get_spec

    clip, work = refs / "b 2.mp4", out / "02_corpus" / "work"  # the kit's layout (kit.corpus.jobs: `b-2`)
    encode, decoded = work / "b-2-b514cd1009__libx264__cq037" / "enc.h264", work / "decoded" / "b-2-b514cd1009"
    ref_input = ["-i", spelled_path(clip)]
    spec = get_spec("libx264")
    return [
        argv.build_encode_argv(str(ffmpeg), ref_input, spec, 37, encode, progress=True,
                               scale=argv.build_scale_filter(640, 360, "lanczos")),
        argv.build_score_argv(str(ffmpeg), encode, ref_input, 640, 360, "yuv420p", encode.with_name("vmaf.json"), 2,
                              teacher=DEFAULT_TEACHER, extra=True, fps="25/1"),
        argv.build_shared_decode_argv(
            str(ffmpeg), ref_input, [(spec, 23, decoded / "b-2-b514cd1009__libx264__cq023.h264"),
                                     (spec, 37, decoded / "b-2-b514cd1009__libx264__cq037__640x360.h264")],
            ref_pix_fmt="yuv420p", ref_out=decoded / "ref.nut", progress=True,
            scales=["", argv.build_scale_filter(640, 360, "lanczos")]),
        argv.build_fingerprint_argv(str(ffmpeg), ref_input),
        argv.build_intermediate_argv(str(ffmpeg), spelled_path(clip), intermediate_path(cache, clip, "1"), "25/1"),
    ]


def test_the_commands_the_kit_builds_reach_the_lead_whole(tmp_path: Path) -> None:
    """Each builder of kit.media.argv (an encode with its scaler, a score with its libvmaf graph, a shared decode's
    filtergraph and labels, a fingerprint, a lossless copy): as the lead is sent it, its paths by their roots and
    every other word as the kit built it, admitted word by word (issue 98, item 6)."""
    from kit.infra.shown import Places, shell_line

    refs, out, cache = tmp_path / "refs", tmp_path / "out", tmp_path / "cache"
    places = Places.of(ref_dir=refs, out_dir=out, cache=cache)
    built = []
    for words in _argvs(refs, out, cache, tmp_path / "bin" / "ffmpeg"):
        built.append(words)
        shown = places.text(shell_line(words))
        assert values.FFMPEG_COMMAND.admits(shown, NAMES), shown
        graphs = [w for w in shlex.split(shown) if w.startswith("[") and "]" in w[1:] and ";" in w]
        assert all("text not sent" not in g for g in graphs)
    assert len(built) == 5


@pytest.mark.parametrize("line", [
    "ffmpeg -i/home/lee/video/b.mp4 -f null -",
    "ffmpeg -i '[ref-dir]/a.y4m' -vf 'drawtext=text=lee' -f null -",
    "ffmpeg -i '[ref-dir]/a.y4m' -metadata title=Elizabeth -f null -",
    "ffmpeg -i '[ref-dir]/a.y4m' -filter_complex '[0:v]split=2[lee][b]' -map '[b]' -f null -",
    "ffmpeg -i '[ref-dir]/a.y4m' -filter_complex '[0:v]scale=w=10.1.2.3:h=2[o]' -map '[o]' -f null -",
    "ffmpeg -i /home/lee/a.y4m -f null -",
    "ensemble-kit run --ref-dir '[ref-dir]' --box-id lee",
])
def test_a_command_the_kit_did_not_build_is_refused(line: str) -> None:
    assert not values.COMMAND.admits(line, NAMES), line


# -- what the system says of the box, typed ----------------------------------------------------------------------
@given(st.text(max_size=60))
def test_the_typed_forms_hold_no_word_of_what_the_system_said(text: str) -> None:
    for form, kind in ((typed.device, values.DEVICE), (typed.version, values.VERSION),
                       (typed.system, values.SYSTEM)):
        shown = form(text)
        assert shown == "" or kind.admits(shown), (form.__name__, text, shown)
        assert form(shown) == shown  # typed once: the same again (merge types its inputs)


@pytest.mark.parametrize(("said", "shown"), [
    ("AMD Ryzen 9 7950X 16-Core Processor", "AMD Ryzen 7950+"),
    ("Intel(R) Xeon(R) CPU E5-2690 v4 @ 2.60GHz", "Intel Xeon 2690+"),
    ("QEMU Virtual CPU version 2.5+ on lee's laptop", "other+"),
])
def test_a_device_is_its_family_its_model_and_a_digest(said: str, shown: str) -> None:
    assert typed.device(said).startswith(shown) and len(typed.device(said)) == len(shown) + typed.DIGEST_DIGITS


def test_a_cpu_the_system_calls_unknown_is_typed_and_only_a_corpus_row_says_no_device() -> None:
    """A host, a GPU or a probe whose system names its device `unknown` sends it typed, as any other name (2.6.0
    sent the word, which DEVICE refuses: withheld); the corpus's `unknown` (a bash kit's row, no device recorded)
    stays the row's and a summary's word for none."""
    from kit.corpus.schema import NO_DEVICE, TYPED_COLUMNS
    from kit.corpus.summary import CorpusSummary

    assert typed.device("unknown").startswith("other+") and values.DEVICE.admits(typed.device("unknown"))
    assert TYPED_COLUMNS["device"](NO_DEVICE) == NO_DEVICE and cat.TEXT_COLUMNS["device"].admits(NO_DEVICE, NAMES)
    summary = cat.FIELDS[CorpusSummary]["devices"]
    assert isinstance(summary, list) and summary[0].admits(NO_DEVICE, NAMES)
    assert summary[0].admits(typed.device("Intel(R) Core(TM) i7"), NAMES) and not summary[0].admits("Intel", NAMES)


def test_a_version_is_its_numbers_and_a_digest() -> None:
    build = "n9.0.2-17-g2a571b6068-20260930 --prefix=/home/lee/ffmpeg 10.1.2.3"
    assert typed.version(build) == f"9.0.2+{typed.digest(build)}"
    assert typed.version("10.1.2.3").startswith("10.1.2+")  # never an address's four numbers
    assert typed.system("Linux-6.18.44-fc-v657-x86_64-with-glibc2.36") == "Linux 6.18.44"


def test_every_message_is_a_template_of_slots_it_declares() -> None:
    """A message names each slot it holds (kit.infra.kinds.Template refuses another at import): here, every template
    the catalogue reaches fills in with its slots' own examples (a count, a path) without a brace left."""
    templates = [k for k in KINDS if isinstance(k, Template)]
    assert len(templates) > 150
    assert all("{" not in t.text.replace("{{", "").replace("}}", "") or t.slots for t in templates)
    assert isinstance(values.FAILURE, Kind) and not isinstance(values.FAILURE, Either)


def test_files_md_lists_every_sent_field() -> None:
    """docs/reference/files.md's list of every sent field and its kind is the catalogue's (tools/sent_fields.py)."""
    import importlib.util

    root = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location("sent_fields", root / "tools" / "sent_fields.py")
    assert spec is not None and spec.loader is not None
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert tool.listed() in tool.DOC.read_text(encoding="utf-8"), "run .venv/bin/python tools/sent_fields.py --write"


def test_every_tensor_of_the_spread_graph_is_catalogued() -> None:
    """The student's spread (issue 97) names its own tensors in the exported graph (kit.model.teacher_term's
    expected_nodes): each is one the catalogue admits, or the bundle refuses its own export."""
    from kit.bundle.catalogue import ONNX_OP, ONNX_TENSOR
    from kit.model.spread import TERMS, Spread
    from kit.model.teacher_term import expected_nodes

    spread = Spread([0.1, 0.2, 0.3, 0.4, 0.5, *[0.05] * (len(TERMS) - 5)], 1.0, 2.0, 3.0)
    nodes, inits = expected_nodes((0.0, 100.0), spread, "features", "codec", "t_raw")
    names = {n for _, inputs, out in nodes for n in (*inputs, out)} | set(inits) | {"s_expected"}
    assert [n for n in sorted(names) if not ONNX_TENSOR.admits(n)] == []
    assert [op for op, _, _ in nodes if not ONNX_OP.admits(op)] == []


BOX_IDS = ["b10", "ann-laptop", "_x_", "a.b-c_d", "7", "a" * 64,  # taken
           "", "a" * 65, "a" * 128, "a/b", "../b10", "-b10", ".b10", "b10-", "b10.", "b 10", "b10\n", "\tb10",
           "b10:", "b\\10", "bо10", "Ｂ10", "b１0", "İb10", "ｂ", "b10\u200b", "Κ10", "b10é"]  # refused


@given(st.one_of(st.sampled_from(BOX_IDS), st.text(max_size=70),
                 st.text(alphabet="aZ09._-/ İК", max_size=70)))
def test_the_catalogues_box_id_is_the_box_id_rule_whole(text: str) -> None:
    """The catalogue's box id (what `verify` and `merge` take in a sent field) is the --box-id rule's, whole: every
    string the flag or the rule refuses (too long, a slash, a look-alike letter, a leading dash or dot, empty) is
    refused by the catalogue, and the reverse. 2.5.0's catalogue took any 1 to 128 of its letters."""
    from kit.cli.flags import check_box_id
    from kit.errors import InputError
    from kit.infra.rules import BOX_ID

    try:
        check_box_id(text)
        flag = True
    except InputError:
        flag = False
    rule = bool(text) and BOX_ID.problem(text) is None  # the rule's "" is a manifest's "not recorded": no box id
    assert values.BOX.admits(text) == rule == flag, text


def test_every_column_of_floor_parquet_is_catalogued() -> None:
    """03_loso/floor.parquet crosses in the tarball: each of its columns (kit.model.floor.FLOOR_COLUMNS) is one the
    catalogue admits, or the bundle refuses its own run (the spread's bound, `most_spread`, once was not)."""
    from kit.bundle.catalogue import COLUMN_NAME
    from kit.model.floor import FLOOR_COLUMNS

    assert [c for c in FLOOR_COLUMNS if not COLUMN_NAME.admits(c)] == []


def test_the_windows_placed_by_the_header_s_rate_are_sent_as_the_verdict_words_them() -> None:
    """The verdict's `consumer.sampling.placed` (a corpus with no frame times): 2.6.0 catalogued other words than the
    verdict wrote, and a 10,000-content union sent the field withheld."""
    from kit.bundle.messages import PLACED
    from kit.verdict.sampling import placed_words

    for window, placed, of in ((5.0, 80_000, 80_000), (2.5, 3, 10), (0.5, 1, 1)):
        said = placed_words(window, placed, of)
        assert said is not None and PLACED.admits(said), said
