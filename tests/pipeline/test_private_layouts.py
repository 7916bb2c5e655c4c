"""Nothing below a root leaves the box, for any layout (issue 75, item 1; ARCHITECTURE.md, "What leaves the box"): a
property test that draws whole box layouts and finds a secret word in no byte of any member of the results tarball.

The class is every path the kit is given, through every door, at every depth. Hypothesis draws (Layout, below) where
each folder lies and how the kit is told of it:

- HOME (a folder of the layout), the current folder (under home or not), --ref-dir, --out-dir (or its default,
  runs/<box-id> under the current folder), the cache (KIT_CACHE_DIR, XDG_CACHE_HOME, or neither: home's .cache),
  TMPDIR, the ffmpeg (a script or a link to the real one, a link to it on PATH), a --teacher model JSON file, a
  --content-groups file, a --settings file (that names ref_dir, teacher, content_groups, ffmpeg and a stale out_dir
  where drawn to), a clip that is a link out of --ref-dir to a file in a folder of its own, a clip that is a link in
  to another clip of --ref-dir (a twin), a clip left out (skipped.json), and the kit's own folder reached through a
  link (started as `<link>/.venv/bin/python <link>/kit/__main__.py`, a venv whose python is a link, as run.json's
  `executable` then says it); an --incumbent (an earlier run's models: the session's json_run's 05_bundle/exports
  for a whole run) and, for a whole run, a --corpus (json_run's shard and manifest) in place of the corpus step, each
  by its flag, its variable or (--incumbent) the settings file;
- each under home, the current folder or neither; the roots given as they are or through a link of their own;
- each given by its flag (absolute, or relative to the current folder as typed), its KIT_ variable, or the --settings
  file (which turns the run flags' variables off: the draw knows); the ffmpeg also by none (found on PATH);
- every folder of every such path a chain of one to three folders, the secret word in at least one of them at a
  drawn depth (the root's own folder name included), beside a quote, a space, `$HOME`, a colon, brackets, a
  backslash, bytes that are not UTF-8 and a letter that is, each drawn.

A file's own name (ffmpeg, model.json) and the parts below a root (a clip's name) are what the rule sends, so the word
is never there; everything above is. The run is real (the real ffmpeg with libvmaf, real torch, real parquet and
ONNX): whole runs (every member: the shard and the tables, the LOSO reports, the verdict, the report, the ONNX models)
and corpus-only runs (the no-torch bundle: tests/pipeline/test_no_torch.py's simulation), which cost a fifth of a
whole run's CPU and share every path door but the training's. Each tarball is scanned as test_private_box.scan does:
every member decompressed and decoded (parquet's cells and metadata, ONNX's names and metadata, JSON's strings,
HTML unescaped), for the word in UTF-8, JSON-, URL-, shell-, HTML- and ffmpeg-filter-escaped, UTF-16/32 and base64.
The box's own files are checked to hold the word (the kit was given it), so a pass is no empty scan.

Runs are expensive, so the draws are few and never shrunk (a failure prints its layout and the members that named
the word): one whole run with an --incumbent, one run on a given --corpus and two corpus-only runs; with --release,
four more whole runs (each drawing its --incumbent and --corpus), two more on a given --corpus and ten more
corpus-only. The verdict's words of an --incumbent elsewhere are tests/unit/test_sent_refusals.py's.
"""

from __future__ import annotations

import compileall
import dataclasses
import json
import os
import shutil
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

from kit.infra.shown import PROGRAMS
from kit.media.svr import builtin_model_text
from tests import conftest, pace
from tests.conftest import LENIENT, ODD, ROOT, render
from tests.pipeline.test_no_torch import NO_TORCH
from tests.pipeline.test_private_box import scan
from tests.unit.test_incumbent_check import bundle

SECRET = "Wq8Heimlichkeit"
# what a folder's name holds beside the word: every awkward character of test_private_box, each drawn
PIECES = ("", "'", " ", "$HOME", ":", "[b]", "\\", os.fsdecode(b"\xff\xfe"), "\u00e9", "x", "-")
RUN = ["--encoders", "libx264", "--epochs", "1", "--batch-size", "64", "--seeds", "0", "--cqs", "25,37",
       "--scales", "native", "--box-id", "lay", *LENIENT]
ANCHORS = ("home", "cwd", "base")  # where a path lies: under home, under the current folder, under neither
WRAPPER = '#!/bin/sh\nexec {real} "$@"\n'
KIT_LINK_PYTHON = Path(".venv") / "bin" / "python"


@st.composite
def folder_name(draw: st.DrawFn, role: str, secret: bool) -> str:
    """One folder's name: awkward pieces around the word (where `secret`), the role's tag first so no two collide."""
    before, after = draw(st.sampled_from(PIECES)), draw(st.sampled_from(PIECES))
    return f"{role}{before}{SECRET if secret else ''}{after}"


@st.composite
def chain(draw: st.DrawFn, role: str) -> tuple[str, ...]:
    """One to three folders, the word in at least one of them, at a drawn depth (the last: a root's own name)."""
    depth = draw(st.integers(1, 3))
    marked = draw(st.sets(st.integers(0, depth - 1), min_size=1))
    return tuple(draw(folder_name(f"{role}{i}", i in marked)) for i in range(depth))


@dataclass(frozen=True)
class Place:
    """A folder of the layout: under which anchor, by which chain of folders; `link`: given through a link of its own
    (itself at a chain of its own, the word in it too)."""

    anchor: str
    folders: tuple[str, ...]
    link: tuple[str, ...] | None = None


@st.composite
def place(draw: st.DrawFn, role: str, linked: bool = False) -> Place:
    link = draw(st.none() | chain(f"{role}L")) if linked else None
    return Place(draw(st.sampled_from(ANCHORS)), draw(chain(role)), link)


@dataclass(frozen=True)
class Layout:
    """A box's layout and how the kit is told of each path (`doors`: a role's flag, variable, settings or default;
    `typed`: a flag's value relative to the current folder)."""

    home: tuple[str, ...]
    cwd: Place
    places: dict[str, Place]
    doors: dict[str, str]
    settings: Place | None
    cache: Place | None
    cache_door: str  # KIT_CACHE_DIR, XDG_CACHE_HOME (the user cache folder's), or none: home's .cache
    tmp: Place | None  # TMPDIR, where the kit's and ffmpeg's scratch files go
    ffmpeg_link: bool
    typed: bool
    stale_out: bool
    # a whole run's: an earlier run's models (--incumbent), and a corpus given to the run (--corpus) in place of the
    # corpus step's (its --teacher and --content-groups then given by no door: the kit refuses them beside it)
    incumbent: Place | None = None
    corpus: Place | None = None


FILES = {"ffmpeg": "ffmpeg", "teacher": "model.json", "groups": "groups.json", "faraway": "faraway.y4m",
         "incumbent": "exports", "corpus": "shard.parquet"}
# each path's doors: its flag, and its variable (or, with --settings, the settings file's key)
FLAGS = {"refs": ("--ref-dir", "KIT_REF_DIR", "ref_dir"), "out": ("--out-dir", "KIT_OUT_DIR", None),
         "ffmpeg": ("--ffmpeg", "KIT_FFMPEG", "ffmpeg"), "teacher": ("--teacher", "KIT_TEACHER", "teacher"),
         "groups": ("--content-groups", "KIT_CONTENT_GROUPS", "content_groups"),
         "incumbent": ("--incumbent", "KIT_INCUMBENT", "incumbent"), "corpus": ("--corpus", "KIT_CORPUS", None)}
GIVEN_BY_A_RUN = ("incumbent", "corpus")  # the files an earlier run made: a --corpus for whole runs only


def trainable(lay: Layout) -> bool:
    """Whether torch imports from the kit as the layout reaches it: not through a folder whose name is not UTF-8
    (the venv's site-packages is on sys.path so spelled, and torch's import cannot encode it), where the kit says
    why and the box makes its corpus alone (a run on a given --corpus is then refused:
    tests/pipeline/test_no_torch.py)."""
    kit = lay.places["kit"]
    cwd = (*(lay.home if lay.cwd.anchor == "home" else ()), *lay.cwd.folders)
    above = {"home": lay.home, "cwd": cwd, "base": ()}[kit.anchor]
    return not any(PIECES[7] in name for name in (*above, *kit.folders))


@st.composite
def layouts(draw: st.DrawFn, whole: bool = False, corpus: bool | None = None, incumbent: bool | None = None) -> Layout:
    """A layout, with or without an --incumbent; a whole run's also with or without a --corpus (`corpus`,
    `incumbent`: always or never, where not None: the runs drawn without --release)."""
    home = draw(chain("home"))
    cwd = Place(draw(st.sampled_from(("home", "base"))), draw(chain("cwd")))
    places = {"refs": draw(place("refs", linked=True)), "out": draw(place("out", linked=True)),
              "ffmpeg": draw(place("ff")), "teacher": draw(place("teacher")), "groups": draw(place("groups")),
              "faraway": draw(place("far")), "kit": draw(place("kitlink"))}
    use_settings = draw(st.booleans())
    doors = {role: draw(st.sampled_from(("flag", "settings" if use_settings and key else "variable")))
             for role, (_, _, key) in FLAGS.items()}
    if use_settings and doors["corpus"] == "variable":  # --settings reads no run flag's variable
        doors["corpus"] = "flag"
    has = {role: (whole or role == "incumbent") and (draw(st.booleans()) if fixed is None else fixed)
           for role, fixed in (("incumbent", incumbent), ("corpus", corpus))}
    for role in GIVEN_BY_A_RUN:
        places[role] = draw(place(role[:4]))
        doors[role] = doors[role] if has[role] else "none"
    if has["corpus"]:  # refused beside --corpus (its rows carry their teacher and groups)
        doors["teacher"] = doors["groups"] = "none"
    if draw(st.booleans()):  # the ffmpeg found on PATH (a link to it is, in every layout), given by no door
        doors["ffmpeg"] = "path"
    if draw(st.booleans()):  # the out-dir's default: runs/<box-id> under the current folder
        doors["out"] = "default"
    if use_settings and doors["out"] == "variable":  # --settings reads no run flag's variable
        doors["out"] = "default"
    cache = draw(st.none() | place("cache", linked=True))
    cache_door = draw(st.sampled_from(("KIT_CACHE_DIR", "XDG_CACHE_HOME"))) if cache is not None else "home"
    layout = Layout(home, cwd, places, doors, draw(place("settings")) if use_settings else None, cache, cache_door,
                    draw(st.none() | place("tmp")), draw(st.booleans()), draw(st.booleans()), draw(st.booleans()),
                    places["incumbent"] if has["incumbent"] else None, places["corpus"] if has["corpus"] else None)
    assume(layout.corpus is None or trainable(layout))  # a given corpus is for a box that trains
    return layout


@dataclass
class Box:
    """A layout made real: its folders, files and links, and the command and environment that run the kit there."""

    base: Path
    layout: Layout
    kit: Path  # the shared copy of the kit, which the layout reaches through a link

    def __post_init__(self) -> None:
        lay = self.layout
        self.home = self.base.joinpath(*lay.home)
        self.cwd = (self.home if lay.cwd.anchor == "home" else self.base).joinpath(*lay.cwd.folders)
        self.home.mkdir(parents=True, exist_ok=True)
        self.cwd.mkdir(parents=True, exist_ok=True)

    def anchor(self, name: str) -> Path:
        return {"home": self.home, "cwd": self.cwd, "base": self.base}[name]

    def folder(self, where: Place) -> Path:
        return self.anchor(where.anchor).joinpath(*where.folders)

    def given(self, where: Place) -> Path:
        """The folder as the kit is told of it: itself, or a link to it."""
        real = self.folder(where)
        real.mkdir(parents=True, exist_ok=True)
        if where.link is None:
            return real
        link = self.anchor(where.anchor).joinpath(*where.link)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(real, target_is_directory=True)
        return link

    def typed(self, path: Path) -> str:
        return os.path.relpath(path, self.cwd) if self.layout.typed else str(path)


def made(box: Box, inputs: Inputs) -> tuple[list[str], dict[str, str]]:
    """The layout's folders and files, and the kit's command line and environment there."""
    lay, tiny_refs, ffmpeg = box.layout, inputs.tiny_refs, inputs.ffmpeg
    refs = box.given(lay.places["refs"])
    for name in ("alpha", "beta", "gamma"):
        shutil.copy(tiny_refs / f"{name}.y4m", box.folder(lay.places["refs"]) / f"{name}.y4m")
    shutil.copy(inputs.odd, box.folder(lay.places["refs"]) / "odd.y4m")  # 175x143: left out, skipped.json
    faraway = box.folder(lay.places["faraway"])
    faraway.mkdir(parents=True, exist_ok=True)
    shutil.copy(tiny_refs / "delta.y4m", faraway / FILES["faraway"])
    (box.folder(lay.places["refs"]) / "outside.y4m").symlink_to(faraway / FILES["faraway"])  # a link out
    (box.folder(lay.places["refs"]) / "twin.y4m").symlink_to("alpha.y4m")  # a link in: alpha's pictures again
    files = {}
    for role in ("ffmpeg", "teacher", "groups"):
        folder = box.folder(lay.places[role])
        folder.mkdir(parents=True, exist_ok=True)
        files[role] = folder / FILES[role]
    if lay.ffmpeg_link:
        files["ffmpeg"].symlink_to(ffmpeg)
    else:
        files["ffmpeg"].write_text(WRAPPER.format(real=ffmpeg))
        files["ffmpeg"].chmod(0o755)
    shutil.copy(inputs.teacher, files["teacher"])
    files["groups"].write_text(json.dumps({"same": [["beta", "gamma"]]}))
    for role, copy in (("incumbent", copy_incumbent), ("corpus", copy_corpus)):
        if getattr(lay, role) is not None:
            folder = box.folder(lay.places[role])
            folder.mkdir(parents=True, exist_ok=True)
            files[role] = folder / FILES[role]
            copy(inputs, files[role])
    out = box.given(lay.places["out"]) / "out"
    kit_link = box.anchor(lay.places["kit"].anchor).joinpath(*lay.places["kit"].folders)
    kit_link.parent.mkdir(parents=True, exist_ok=True)
    kit_link.symlink_to(box.kit, target_is_directory=True)

    given = {"refs": refs, "out": out, **files}
    args: list[str] = []
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIT_") and k != "XDG_CACHE_HOME"}
    env.update(HOME=str(box.home), PYTHONPATH="", PYTHONDONTWRITEBYTECODE="1")
    settings_doc: dict[str, object] = {}
    for role, (flag, variable, key) in FLAGS.items():
        door, path = lay.doors[role], given.get(role)
        if door == "none" or path is None:
            continue
        if door == "flag":
            args += [flag, box.typed(path)]
        elif door == "variable":
            env[variable] = str(path)
        elif door == "settings" and key is not None:
            settings_doc[key] = str(path)
    if lay.settings is not None:
        stale = box.folder(lay.settings) / "stale-out" if lay.stale_out else out
        settings_doc["out_dir"] = str(stale)  # a task flag: the command's own --out-dir wins
        settings_file = box.folder(lay.settings) / "settings.json"
        settings_file.parent.mkdir(parents=True, exist_ok=True)
        settings_file.write_text(json.dumps(settings_doc))
        args = ["--settings", box.typed(settings_file), *args]
    if lay.cache is not None:  # the user cache folder's: the kit's is ensemble-kit in it
        env[lay.cache_door] = str(box.given(lay.cache))
    if lay.tmp is not None:
        env["TMPDIR"] = str(box.given(lay.tmp))
    # the box's PATH holds a folder of its own with a link to the layout's ffmpeg (a folder on PATH cannot hold a
    # colon, which the drawn folders may)
    on_path = box.base / f"bin ${SECRET}"
    on_path.mkdir()
    (on_path / "ffmpeg").symlink_to(files["ffmpeg"])
    env["PATH"] = os.pathsep.join((str(on_path), env.get("PATH", os.defpath)))
    return [box.typed(kit_link), *args], env


def kit_entry(link: str, whole: bool) -> list[str]:
    """The kit through its link: its venv's python and kit/__main__.py, or (corpus-only) the no-torch simulation."""
    python = str(Path(link) / KIT_LINK_PYTHON)
    if whole:
        return [python, str(Path(link) / "kit" / "__main__.py")]
    return [python, NO_TORCH[1], f"import sys; sys.path.insert(0, {link!r})\n" + NO_TORCH[2]]


@pytest.fixture(scope="session")
def kit_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One copy of the kit, compiled once, in a folder whose name holds the word, with a venv whose python is a link
    (this venv's site-packages behind a link): every layout reaches it through a link of its own."""
    base = tmp_path_factory.mktemp("layouts-kit")
    kit = base / f"kit {PIECES[7]} {SECRET}"
    shutil.copytree(ROOT / "kit", kit / "kit", ignore=shutil.ignore_patterns("__pycache__"))
    compileall.compile_dir(kit / "kit", quiet=2)
    venv = Path(sys.prefix)
    (kit / ".venv" / "bin").mkdir(parents=True)
    shutil.copy(venv / "pyvenv.cfg", kit / ".venv" / "pyvenv.cfg")
    (kit / KIT_LINK_PYTHON).symlink_to(os.path.realpath(sys.executable))
    lib = f"python{sys.version_info.major}.{sys.version_info.minor}"
    (kit / ".venv" / "lib" / lib).mkdir(parents=True)
    (kit / ".venv" / "lib" / lib / "site-packages").symlink_to(venv / "lib" / lib / "site-packages")
    return kit


@dataclass(frozen=True)
class Inputs:
    """What every layout is made of: the real ffmpeg, the tiny clips, the clip every layout leaves out (175x143) and
    a --teacher model file (vmaf_v0.6.1 as this ffmpeg's libvmaf holds it)."""

    ffmpeg: str
    tiny_refs: Path
    odd: Path
    teacher: Path
    earlier: Path | None = None  # a whole run's out-dir (the session's json_run): its models and its corpus


def copy_incumbent(inputs: Inputs, dest: Path) -> None:
    """The earlier run's models, as --incumbent takes them (its 05_bundle/exports); for a corpus-only run, which
    trains none and scores no incumbent, a bundle of one small ONNX model (tests/unit/test_incumbent_check.py's)."""
    if inputs.earlier is None:
        bundle(dest, "column")
    else:
        shutil.copytree(inputs.earlier / "05_bundle" / "exports", dest)


def copy_corpus(inputs: Inputs, dest: Path) -> None:
    """The earlier run's corpus and its manifest beside it, as --corpus takes them."""
    assert inputs.earlier is not None
    shutil.copy(inputs.earlier / "02_corpus" / "shard.parquet", dest)
    shutil.copy(inputs.earlier / "02_corpus" / "shard.manifest.json", dest.with_name("shard.manifest.json"))


@pytest.fixture(scope="session")
def layout_inputs(ffmpeg: str, tiny_refs: Path, tmp_path_factory: pytest.TempPathFactory) -> Inputs:
    folder = tmp_path_factory.mktemp("layouts-inputs")
    odd = render(ffmpeg, ODD, folder / "odd.y4m", pix_fmt="yuv444p")
    (folder / "model.json").write_text(builtin_model_text(Path(ffmpeg), "vmaf_v0.6.1"))
    return Inputs(ffmpeg, tiny_refs, odd, folder / "model.json")


def run_layout(layout: Layout, whole: bool, base: Path, kit: Path, inputs: Inputs) -> dict[str, int]:
    """Run the kit in `layout`, scan its tarball: what was scanned (members, bytes, views); fails naming the members
    that hold the word."""
    box = Box(base, layout, kit)
    words, env = made(box, inputs)
    cmd = [*kit_entry(words[0], whole), "run", *words[1:], *RUN]
    res = pace.run(cmd, cwd=box.cwd, env=env, capture_output=True, text=True, errors="surrogateescape",
                   timeout=900)
    said = res.stdout[-3000:] + res.stderr[-3000:]
    # a whole run's verdict may be HOLD (exit 1): an --incumbent the one-epoch challenger does not beat; a whole run
    # whose kit torch cannot import from makes its corpus alone
    trains = whole and trainable(layout)
    assert res.returncode in ((0, 1) if trains else (0,)) and "internal error" not in res.stderr, (layout, said)
    out = box.cwd / "runs" / "lay" if layout.doors["out"] == "default" else box.folder(layout.places["out"]) / "out"
    (tarball,) = (out / "05_bundle").glob("results-*.tar.gz")
    # the kit was given the word: the box's own run.json and corpus log hold it (a pass is no empty scan)
    assert SECRET in (out / "run.json").read_text(errors="surrogateescape"), layout
    corpus_step = layout.corpus is None  # --corpus skips the corpus step
    assert not corpus_step or SECRET in (out / "02_corpus" / "logs" / "corpus.log").read_text(
        errors="surrogateescape"), layout
    counts, found = scan(tarball, SECRET)
    assert found == [], (layout, found)
    with tarfile.open(tarball) as tar:
        held = {m.name.split("/", 1)[1]: tar.extractfile(m).read()  # type: ignore[union-attr]
                for m in tar.getmembers() if m.isfile()}
    assert not corpus_step or ("02_corpus/skipped.json" in held and "02_corpus/logs/corpus.log" in held), sorted(held)
    assert not trains or res.returncode == 1 or any(n.endswith(".onnx") for n in held), sorted(held)  # HOLD: none
    # what is sent instead: the kit's python by its place in the kit, reached through the link; the layout's ffmpeg
    # (by any door) by its name behind the mark
    sent_run, prereqs = json.loads(held["run.json"]), json.loads(held["01_prereqs/prereqs.json"])
    assert sent_run["provenance"]["executable"] == "[kit]/.venv/bin/python", sent_run["provenance"]
    assert not whole or sent_run["argv"][0] == "[kit]/kit/__main__.py", sent_run["argv"]
    # the layout's ffmpeg lies under no root: sent as a file name behind the mark, no folder of it. A link given is
    # sent by its own name or by the name of the file it leads to (which of the two depends on the door and the run:
    # seen both ways in fresh clones' CI draws); one found on PATH by the name PATH gives it
    on_path = layout.doors["ffmpeg"] == "path"
    names = {FILES["ffmpeg"], *([Path(inputs.ffmpeg).resolve().name] if layout.ffmpeg_link and not on_path else [])}
    # a program's name (kit.infra.shown.PROGRAMS) behind the mark, any other name of the box's not at all
    sent_names = {f"[elsewhere]/{name}" if name in PROGRAMS else "[elsewhere]" for name in names}
    assert (sent_run["settings"]["ffmpeg"] is None) if on_path else sent_run["settings"]["ffmpeg"] in sent_names, \
        sent_run["settings"]
    assert prereqs["ffmpeg"]["path"] in sent_names, prereqs["ffmpeg"]
    # an --incumbent's folder and a --corpus file lie under no root (home, the current folder or neither): each by
    # the mark alone (kit.infra.shown: their names are the box's)
    for role, sent in (("incumbent", "[elsewhere]"), ("corpus", "[elsewhere]")):
        if getattr(layout, role) is not None:
            assert sent_run["settings"][role] == sent, sent_run["settings"]
    return counts


SCANNED: dict[str, dict[str, int]] = {}


def tally(kind: str, counts: dict[str, int]) -> None:
    """What the draws of one kind scanned, for the session's summary (tests/conftest.py's `timing` lines)."""
    total = SCANNED.setdefault(kind, {"layouts": 0, "members": 0, "bytes": 0, "views": 0})
    total["layouts"] += 1
    for key in ("members", "bytes", "views"):
        total[key] += counts[key]


def drawn(count: int):  # type: ignore[no-untyped-def]
    """Hypothesis's settings for a property whose every example is a whole run: `count` draws, none shrunk (a failure
    prints its layout), none kept between sessions."""
    return settings(max_examples=count, deadline=None, database=None, phases=(Phase.explicit, Phase.generate),
                    suppress_health_check=list(HealthCheck))


def summary(kind: str) -> str:
    t = SCANNED.get(kind, {})
    return (f"private layouts ({kind}): {t.get('layouts', 0)} layouts, {t.get('members', 0)} members, "
            f"{t.get('bytes', 0)} bytes, {t.get('views', 0)} views scanned, 0 hits")


def check(kind: str, whole: bool, layout: Layout, request: pytest.FixtureRequest, kit: Path,
          inputs: Inputs) -> None:
    """One drawn layout run and scanned; the session's summary says what the draws of `kind` scanned so far."""
    base = request.getfixturevalue("tmp_path_factory").mktemp(f"layout-{kind.split(',')[0]}")
    if whole:  # an earlier run's models and corpus to give (the session's json_run, which the suite makes anyway)
        inputs = dataclasses.replace(inputs, earlier=request.getfixturevalue("json_run")[0])
    tally(kind, run_layout(layout, whole, base, kit, inputs))
    shutil.rmtree(base, ignore_errors=True)  # each run's out-dir: about 3 MB
    props = request.node.user_properties
    props[:] = [p for p in props if p[0] != "timing"] + [("timing", summary(kind))]


def drawn_runs(kind: str, whole: bool, count: int, **fixed: bool):  # type: ignore[no-untyped-def]
    """A property test of `count` drawn layouts, each a whole run (`whole`) or a corpus-only one, scanned (`fixed`:
    what layouts always or never draws)."""
    @drawn(count)
    @given(layout=layouts(whole, **fixed))
    def test(layout: Layout, request: pytest.FixtureRequest, kit_copy: Path, layout_inputs: Inputs) -> None:
        check(kind, whole, layout, request, kit_copy, layout_inputs)
    return test


# each kind's draws: one whole run from the clips with an --incumbent, one on a given --corpus, two corpus-only; with
# --release (conftest.DEEP) four more whole runs (their --incumbent and --corpus drawn), two more on a given --corpus
# and ten more corpus-only
test_a_whole_run_in_a_drawn_layout_sends_no_folder = pytest.mark.slow(drawn_runs("whole", True, 1, corpus=False,
                                                                                 incumbent=True))
test_a_run_on_a_given_corpus_in_a_drawn_layout_sends_no_folder = pytest.mark.slow(
    drawn_runs("given corpus", True, 3 if conftest.DEEP else 1, corpus=True))
test_corpus_runs_in_drawn_layouts_send_no_folder = pytest.mark.slow(drawn_runs("corpus", False,
                                                                               12 if conftest.DEEP else 2))
if conftest.DEEP:
    test_more_whole_runs_in_drawn_layouts_send_no_folder = pytest.mark.slow(drawn_runs("whole, drawn", True, 4))
