"""A fifth hostile round on what the kit reads (issue 40's classes, cases its tests did not cover): a claim a file
makes is checked against what backs it, a name given twice in one JSON object is refused, a named pipe where a
JSON file is given never blocks, and a path below a dangling link is a sentence. Each test names what happened
before its fix."""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import threading
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kit.bundle.conformal import model_problems
from kit.bundle.tarball import write_results_tarball
from kit.cli.main import cli
from kit.errors import InputError
from kit.infra.outside import JsonRefused, load_json, read_json
from kit.infra.tree import Tree
from kit.rundir import LAYOUT
from tests.kitfiles import shard_table, write_shard

# a lead record of each test's own (tests/conftest.py own_lead): its unsigned tarballs of boxa and boxb are
# refused, rightly, wherever another test made those box ids known by a key in the session's shared cache
pytestmark = pytest.mark.usefixtures("own_lead")


def _in_time(call: object, seconds: float = 10.0) -> BaseException | None:
    """Run `call` on a thread; fail the test when it has not finished in time (a read blocked on a pipe)."""
    found: list[BaseException | None] = [None]

    def target() -> None:
        try:
            call()  # type: ignore[operator]
        except BaseException as exc:  # handed to the test, which asserts on it
            found[0] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "the read blocked (a named pipe read as a file)"
    return found[0]


# ---- JSON: one document, one reading ----

@pytest.mark.parametrize("text", ['{"a": 1, "a": 2}', '[{"width": 176, "height": 144, "height": 72}]',
                                  '{"m": {"x": 1}, "n": {"x": 2, "x": 3}}'])
def test_a_name_given_twice_in_one_object_is_refused(text: str) -> None:
    """json.loads keeps the last of two equal names: a .yuv sidecar with a second "height" made a 176x144 clip read
    as 176x72 (16 frames of garbage trained on), and an --incumbent's second "members" list was scored."""
    with pytest.raises(JsonRefused, match="is given twice in one object"):
        load_json(text)
    assert load_json('{"a": {"x": 1}, "b": {"x": 2}}') == {"a": {"x": 1}, "b": {"x": 2}}  # equal names apart: fine


def test_a_yuv_sidecar_with_a_name_twice_is_named(tmp_path: Path) -> None:
    from kit.media.refs import YuvDefaults, yuv_geometry

    clip = tmp_path / "Side.yuv"
    clip.write_bytes(bytes(176 * 144 * 3 // 2 * 16))
    (tmp_path / "Side.json").write_text('{"width": 176, "height": 144, "fps": 25, "height": 72}')
    with pytest.raises(InputError) as err:
        yuv_geometry(clip, YuvDefaults())
    assert "Side.json" in err.value.message and "'height' is given twice" in err.value.message


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes (os.mkfifo, POSIX's)")
def test_a_named_pipe_given_as_a_json_file_is_refused_unread(tmp_path: Path) -> None:
    """`--content-groups cg.fifo` hung the run (and merge) until killed: the file was opened to read, blocking."""
    fifo = tmp_path / "groups.json"
    os.mkfifo(fifo)
    err = _in_time(lambda: read_json(fifo))
    assert isinstance(err, OSError) and "a named pipe (FIFO), not a regular file" in str(err)
    shard = write_shard(tmp_path / "a.parquet", shard_table())
    res = CliRunner().invoke(cli, ["merge", str(shard), "-o", str(tmp_path / "m.parquet"), "--content-groups",
                                   str(fifo)])
    assert res.exit_code == 2 and f"{fifo}: cannot read the --content-groups file" in res.output, res.output
    assert "named pipe" in res.output


# ---- paths ----

def test_an_out_dir_below_a_link_to_nowhere_is_a_sentence(tmp_path: Path) -> None:
    """`--out-dir dangling/box1`, dangling a link to storage that is not mounted, was exit 70 with a traceback
    (FileNotFoundError from mkdir). A file where a folder belongs, a read-only file system: the guard's sentences
    (tests/real/test_path_errors.py)."""
    (tmp_path / "dangling").symlink_to(tmp_path / "not-mounted" / "runs")
    with pytest.raises(InputError) as err:
        Tree.open(tmp_path / "dangling" / "box1")
    assert err.value.message == (f"cannot create {tmp_path / 'dangling' / 'box1'}: {tmp_path / 'dangling'} is a link "
                                 f"to {tmp_path / 'not-mounted' / 'runs'}, which does not exist")
    assert "mount" in (err.value.hint or "")


# ---- a results tarball's claims ----

def _tarball(tmp_path: Path, verdict: str | None, claim: dict[str, object]) -> Path:
    parts = tmp_path / "parts"
    parts.mkdir(parents=True, exist_ok=True)
    files = {LAYOUT.shard.as_posix(): write_shard(parts / "shard.parquet", shard_table())}
    if verdict is not None:
        (parts / "v.json").write_text(json.dumps({"verdict": verdict, "corpus": {"sha256": "ab" * 32}}))
        files[f"04_verdict/{verdict}.json"] = parts / "v.json"
    (parts / "run.json").write_text(json.dumps({"settings": {"box_id": "boxa"}}))
    files["run.json"] = parts / "run.json"
    dest = tmp_path / "results.tar.gz"
    with Tree.open(tmp_path) as tree:
        write_results_tarball(tree, dest, "results-boxa-x", files, claim)
    return dest


@pytest.mark.parametrize(("verdict", "claim", "problem"), [
    ("HOLD", {"verdict": "PROMOTE", "box_id": "boxa"}, "manifest.json says verdict PROMOTE, but the tarball holds "
                                                       "04_verdict/HOLD.json"),
    (None, {"verdict": "PROMOTE", "box_id": "boxa"}, "manifest.json says verdict PROMOTE, but the tarball holds no "
                                                     "verdict file"),
    ("HOLD", {"verdict": "HOLD", "box_id": "boxb"}, "manifest.json says box boxb, but run.json ran as box boxa"),
    ("HOLD", {"verdict": "HOLD", "box_id": "boxa", "corpus_sha256": "cd" * 32},
     "manifest.json says corpus_sha256 cdcdcdcdcdcd…, but 04_verdict/HOLD.json was reached on corpus abababababab…"),
])
def test_verify_checks_what_the_manifest_says_against_the_files_it_ships(tmp_path: Path, verdict: str | None,
                                                                         claim: dict[str, object],
                                                                         problem: str) -> None:
    """A HOLD run's tarball with manifest.json edited to say PROMOTE (every sha256 still right): `verify` printed
    "OK: 15 files match their sha256 (...; verdict PROMOTE)", the line the lead reads first."""
    res = CliRunner().invoke(cli, ["verify", str(_tarball(tmp_path, verdict, claim))])
    assert res.exit_code == 2 and f"MISMATCH: {problem}" in res.output, res.output
    honest = _tarball(tmp_path / "honest", "HOLD", {"verdict": "HOLD", "box_id": "boxa", "corpus_sha256": "ab" * 32})
    res = CliRunner().invoke(cli, ["verify", str(honest)])
    assert res.exit_code == 0 and "verdict HOLD" in res.output, res.output


def test_a_calibration_sidecar_must_name_the_model_it_sits_for(tmp_path: Path) -> None:
    """A sidecar naming a model_id with no manifest, or `../` paths, passed verify."""
    onnx = tmp_path / "m_seed0.onnx"
    onnx.write_bytes(b"model")
    from kit.infra.files import sha256_file

    models = {onnx.name: sha256_file(onnx)}
    sidecar = tmp_path / "m_calibration.json"
    base = {"method": "split_conformal", "alpha": 0.05, "n": 0, "residuals": [], "calibrated": False, "models": models}
    for model_id, needle in (("other", "says it calibrates model 'other'"),
                             ("../../03_loso/baselines", "says it calibrates model '../../03_loso/baselines'"),
                             ("m", "but no m.json beside it lists that model's members")):
        sidecar.write_text(json.dumps({**base, "model_id": model_id}))
        problems = model_problems(sidecar)
        assert any(needle in p for p in problems), (model_id, problems)
    (tmp_path / "m.json").write_text(json.dumps({"members": [{"onnx": onnx.name, "sha256": models[onnx.name]}]}))
    assert model_problems(sidecar) == []


# ---- an incumbent and a corpus: the files their records name ----

def test_an_incumbent_model_that_is_not_the_one_its_manifest_records_is_refused(tmp_path: Path) -> None:
    """One exported model copied over another was scored as the incumbent ("challenger beats the incumbent")."""
    from kit.infra.files import sha256_file
    from kit.model.incumbent import find_incumbent

    exports = tmp_path / "exports"
    exports.mkdir()
    members = []
    for seed in (0, 1):
        (exports / f"m_seed{seed}.onnx").write_bytes(f"model {seed}".encode())
        members.append({"seed": seed, "onnx": f"m_seed{seed}.onnx", "sidecar": f"m_seed{seed}.json",
                        "sha256": sha256_file(exports / f"m_seed{seed}.onnx"), "parity_max_abs_diff": 0.0})
    (exports / "ensemble.json").write_text(json.dumps({"members": members}))
    assert len(find_incumbent(exports)[1]) == 2
    shutil.copy(exports / "m_seed1.onnx", exports / "m_seed0.onnx")
    with pytest.raises(InputError) as err:
        find_incumbent(exports)
    assert err.value.message.startswith(f"--incumbent {exports / 'm_seed0.onnx'} has sha256 ")
    assert "was changed after the bundle was exported" in err.value.message


@pytest.mark.parametrize("damage", ["cut", "fifo", "shape"])
def test_a_corpus_manifest_that_cannot_be_read_vouches_for_nothing(tmp_path: Path, damage: str) -> None:
    """A merged corpus swapped, its manifest cut short (or a pipe): the sha256 check was skipped as if the corpus had
    no manifest, and the run trained on the swapped rows."""
    from kit.rundir import manifest_path
    from kit.steps.s03_loso import check_described

    corpus = write_shard(tmp_path / "union.parquet", shard_table())
    manifest = manifest_path(corpus)
    if damage == "cut":
        manifest.write_text('{"schema_version": 3, "kind": "merged", "sha256": "ab')
    elif damage == "fifo":
        os.mkfifo(manifest)
    else:
        manifest.write_text("[1, 2]")
    err = _in_time(lambda: check_described(corpus))
    assert isinstance(err, InputError), err
    assert err.message.startswith(f"--corpus {corpus}: its manifest {manifest} is ")
    assert "cannot be checked against it" in err.message
    manifest.unlink()
    check_described(corpus)  # no manifest: the user's own to vouch for


def test_a_tarball_with_two_verdicts_is_refused(tmp_path: Path) -> None:
    dest = _tarball(tmp_path, "HOLD", {"verdict": "HOLD", "box_id": "boxa"})
    top = tmp_path / "x"
    with tarfile.open(dest) as tar:
        tar.extractall(top, filter="data")
    (root,) = list(top.iterdir())
    (root / "04_verdict" / "PROMOTE.json").write_text(json.dumps({"verdict": "PROMOTE"}))
    files = {p.relative_to(root).as_posix(): p for p in root.rglob("*") if p.is_file() and p.name != "manifest.json"}
    with Tree.open(tmp_path) as tree:
        write_results_tarball(tree, tmp_path / "two.tar.gz", root.name, files, {"verdict": "HOLD", "box_id": "boxa"})
    res = CliRunner().invoke(cli, ["verify", str(tmp_path / "two.tar.gz")])
    assert res.exit_code == 2 and "04_verdict/HOLD.json and 04_verdict/PROMOTE.json: a run has one verdict" \
        in res.output, res.output


def _verdict_doc(**gates: object) -> dict[str, object]:
    """A PROMOTE verdict's gate rows as kit.verdict.decide makes them (its own gate functions), every one passing;
    `gates` replaces rows."""
    from kit.verdict.document import Completeness, LimitGate
    from kit.verdict.lift import challenger_gate, lift_gate
    from kit.verdict.thresholds import GateThresholds, evaluate_gate, evidence_gate, fold_gate

    gate = evaluate_gate({0: 0.97, 1: 0.972}, GateThresholds())
    doc: dict[str, object] = {
        "verdict": "PROMOTE", "corpus": {"sha256": "ab" * 32}, "gate": gate.to_json(),
        "lift_gate": lift_gate(0.8, 1.0).to_json(), "challenger_gate": challenger_gate(0.971, None, 0.002).to_json(),
        "evidence_gate": evidence_gate(6, 5).to_json(),
        "bias_gate": fold_gate("abs_bias", {"s0": 2.0, "s1": 3.5}, 10.0).to_json(),
        "fold_rmse_gate": fold_gate("rmse", {"s0": 4.0}, None).to_json(),
        "coverage_gate": LimitGate(True, "coverage", 0.7, "pooled", 0.78, [], True).to_json(),
        "completeness": Completeness(6, 6, [], True).to_json(),
        "holdout": [{"kind": "encoder", "gate": LimitGate(True, "plcc", 0.9, "libx265", 0.93, [], True).to_json()}]}
    return {**doc, **gates}


def _with_verdict(tmp_path: Path, doc: dict[str, object]) -> Path:
    dest = _tarball(tmp_path, "PROMOTE", {"verdict": "PROMOTE", "box_id": "boxa", "corpus_sha256": "ab" * 32})
    top = tmp_path / "x"
    with tarfile.open(dest) as tar:
        tar.extractall(top, filter="data")
    (root,) = list(top.iterdir())
    (root / "04_verdict" / "PROMOTE.json").write_text(json.dumps(doc))  # edited, and the manifest made to match
    files = {p.relative_to(root).as_posix(): p for p in root.rglob("*") if p.is_file() and p.name != "manifest.json"}
    with Tree.open(tmp_path) as tree:
        write_results_tarball(tree, tmp_path / "edited.tar.gz", root.name, files,
                              {"verdict": "PROMOTE", "box_id": "boxa", "corpus_sha256": "ab" * 32})
    return tmp_path / "edited.tar.gz"


def _failed(row: dict[str, Any], **edits: object) -> dict[str, object]:
    return {**row, **edits}


PASSING: dict[str, Any] = _verdict_doc()


@pytest.mark.parametrize(("gates", "said"), [
    ({"gate": _failed(PASSING["gate"], mean_plcc=0.949, per_seed_plccs={"0": 0.948, "1": 0.95},
                      plcc_spread=0.002, mean_plcc_pass=False, per_seed_pass=False, failing_seeds=[0],
                      passed=False)},
     "its own gate fails: mean_plcc 0.949 is below its threshold 0.95"),
    ({"gate": _failed(PASSING["gate"], mean_plcc=0.9, mean_plcc_threshold=0.95)},
     "its own gate fails: mean_plcc 0.9 is below its threshold 0.95"),  # the flags left true
    ({"lift_gate": _failed(PASSING["lift_gate"], rmse_ratio=1.3)},
     "its own lift_gate fails: rmse_ratio 1.3 is above its threshold 1"),
    ({"bias_gate": _failed(PASSING["bias_gate"], failing_sources=["s1"], passed=False)},
     "its own bias_gate fails: it lists s1 as failing"),
    ({"evidence_gate": _failed(PASSING["evidence_gate"], content_groups=4)},
     "its own evidence_gate fails: 4 content groups, fewer than its minimum 5"),
    ({"coverage_gate": _failed(PASSING["coverage_gate"], worst_value=0.5)},
     "its own coverage_gate fails: its worst value 0.5 is below its threshold 0.7"),
    ({"completeness": _failed(PASSING["completeness"], passed=False)},
     "its own completeness fails: its passed is False"),
    ({"holdout": [{"kind": "encoder", "gate": _failed(PASSING["holdout"][0]["gate"],
                                                      worst_value=0.5)}]},
     "its own holdout encoder gate fails: its worst value 0.5 is below its threshold 0.9"),
    ({"gate": None}, "its own gate fails: the document has no PLCC gate row"),
])
def test_verify_refuses_a_promote_its_own_gate_rows_fail(tmp_path: Path, gates: dict[str, object], said: str) -> None:
    """Issue 52, item 5: `verify` printed `OK … verdict PROMOTE` for a PROMOTE.json whose own gate rows failed (the
    manifest's sha256s made to match). It recomputes each gate row from its own figures and flags and refuses a
    PROMOTE they contradict, naming the gate; the kit's own PROMOTE passes."""
    honest = CliRunner().invoke(cli, ["verify", str(_with_verdict(tmp_path / "honest", PASSING))])
    assert honest.exit_code == 0 and "verdict PROMOTE" in honest.output, honest.output
    res = CliRunner().invoke(cli, ["verify", str(_with_verdict(tmp_path, _verdict_doc(**gates)))])
    assert res.exit_code == 2 and f"MISMATCH: 04_verdict/PROMOTE.json says PROMOTE, but {said}" in res.output, \
        res.output
    assert "OK:" not in res.output


def test_a_hold_whose_rows_pass_is_not_refused() -> None:
    """A HOLD claims nothing: a constant teacher holds with every row passing when the thresholds let a PLCC of 0
    through (decide's constant_teacher), so only a PROMOTE is held to its rows."""
    from kit.verdict.recheck import contradiction, gate_failures

    assert contradiction({**PASSING, "verdict": "HOLD"}) is None and gate_failures(PASSING) == []


def test_a_row_that_says_why_it_judges_nothing_claims_nothing() -> None:
    """Issue 97: where the held-out student is its teacher's function, the per-frame rows judge nothing (their passes
    null, `not_judged` saying why) and the seeds are one student (`seeds_not_judged`); `verify` took their null passes
    for failures and refused every such PROMOTE. A null pass without its reason is still refused."""
    from kit.verdict.recheck import gate_failures

    plcc = PASSING["gate"]
    unjudged = _verdict_doc(gate=_failed(plcc, passed=None, mean_plcc_pass=None, plcc_spread_pass=None,
                                         per_seed_pass=None, not_judged="the student is its teacher's function"),
                            coverage_gate=_failed(PASSING["coverage_gate"], passed=None, not_judged="no source"))
    assert gate_failures(unjudged) == []
    seeds = _verdict_doc(gate=_failed(plcc, plcc_spread_pass=None, per_seed_pass=None, plcc_spread=0.5,
                                      seeds_not_judged="every seed is one student"))
    assert gate_failures(seeds) == []
    assert gate_failures(_verdict_doc(gate=_failed(plcc, plcc_spread_pass=None, per_seed_pass=None, plcc_spread=0.5,
                                                   mean_plcc=0.9, seeds_not_judged="one student"))) \
        == [("gate", "mean_plcc 0.9 is below its threshold 0.95")]
    assert gate_failures(_verdict_doc(coverage_gate=_failed(PASSING["coverage_gate"], passed=None))) \
        == [("coverage_gate", "its passed is None")]
    assert gate_failures(_verdict_doc(gate=_failed(plcc, passed=None, not_judged=""))) \
        == [("gate", "its passed is None")]
