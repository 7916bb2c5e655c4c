"""Whole commands on a record read back with one field malformed (issue 75, item 2): `status` on an out-dir whose
corpus step stopped, holding its plan (02_corpus/plan.json), its job ledgers, the steps' status.json and run.json,
each field of each given every malformed value its declaration calls for (tests/unit/test_record_fields.py makes
them): exit 0 with the damaged file and the field said (the record read as absent, as docs/reference/files.md says of
the run directory's control files), or exit 2 naming them (a setting's rule), never 70: every value of every field of
the four, and the issue's date.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from copy import deepcopy
from pathlib import Path
from typing import Any

import pytest

from kit.corpus.jobs import JobLedger
from kit.corpus.progress import JobsPlan
from kit.infra.records import Record
from kit.steps.records import RunRecord, StepRecord
from kit.verdict.document import Verdict
from tests.conftest import run_here
from tests.unit.test_record_fields import (
    MISSING,
    NOT_A_DATE,
    Field,
    breakers,
    breaks,
    document,
    may_lack,
    rules_of,
    walk,
    with_value,
    wrong_types,
)

pytestmark = pytest.mark.slow  # a whole run's out-dir, copied

# the file, its record, and whether status names the damage (a job whose ledger is damaged is one to redo: status
# counts it as not done, and says which ledger)
FILES: dict[str, tuple[type[Record], bool]] = {"02_corpus/plan.json": (JobsPlan, True),
                                               "01_prereqs/status.json": (StepRecord, True),
                                               "run.json": (RunRecord, True),
                                               "02_corpus/jobs/*.json": (JobLedger, True)}


def malformed(cls: type[Record]) -> list[tuple[Field, str, Any]]:
    """(the field, the value's label, the value) for each field of `cls` (run.json: its own, not the settings it
    holds, whose every field the unit tests read) and each malformed value."""
    out = []
    for f in walk(cls):
        if cls is RunRecord and f.at[0] == "settings":
            continue
        for value in (*wrong_types(f.tp), *breakers(rules_of(f.f), f.tp), MISSING):
            out.append((f, "missing" if value is MISSING else json.dumps(value)[:40], value))
    return out


CASES = [(file, *case) for file, (cls, _) in FILES.items() for case in malformed(cls)]




@pytest.fixture(scope="module")
def stopped(json_run: tuple[Path, object], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's run, its corpus step made to have stopped after its jobs: its status.json gone, its plan back
    (every job of the ledgers, planned as the run was invoked)."""
    out = tmp_path_factory.mktemp("stopped") / "out"
    shutil.copytree(json_run[0], out)
    (out / "02_corpus" / "status.json").unlink()
    invoked = json.loads((out / "run.json").read_text())["invoked_at_utc"]
    jobs = {p.stem: 1000.0 for p in sorted((out / "02_corpus" / "jobs").glob("*.json"))}
    plan = {"started_at_utc": invoked, "jobs": jobs, "reused": [], "generation": ""}
    (out / "02_corpus" / "plan.json").write_text(json.dumps(plan))
    res = run_here("status", out)  # as it is, the plan is read and its jobs counted
    assert res.returncode == 0 and f"{len(jobs)} of {len(jobs)} jobs done" in res.stdout, res.stdout
    return out


def status_of(out: Path, file: str, at: tuple[str | int, ...], value: Any, tmp_path: Path) -> tuple[Any, str]:
    """`status` on a copy of `out` whose `file` holds `value` at `at`; and its name. Of the files a pattern matches,
    the first that holds the field's record (a ledger's `oracle`: only the job of the clip checked has one)."""
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    held = ((path, changed) for path in sorted(copy.glob(file))
            if (changed := with_value(json.loads(path.read_text()), at, value)) is not None)
    path, changed = next(held, (None, None))
    assert path is not None, f"no {file} of the run holds the record of {'.'.join(map(str, at))}"
    path.write_text(json.dumps(changed))
    return run_here("status", copy), path.name


def said(res: Any, name: str, field: Field) -> str:
    """The line naming the file and the field: the refusal (exit 2), or status's line of the record read as absent."""
    lines = res.stderr.splitlines() if res.returncode == 2 else res.stdout.splitlines()
    return next((ln for ln in lines if name in ln and str(field.at[-1]) in ln), "")


@pytest.mark.parametrize(("file", "field", "label", "value"),
                         CASES,
                         ids=[f"{c[0]}-{c[1].key}-{c[2]}" for c in CASES])
def test_status_reads_each_malformed_field_by_its_rule(file: str, field: Field, label: str, value: Any,
                                                       stopped: Path, tmp_path: Path) -> None:
    res, name = status_of(stopped, file, field.at, value, tmp_path)
    assert res.returncode in (0, 2), (file, field.key, label, res.returncode, res.stderr[-2000:])
    assert "Traceback" not in res.stdout + res.stderr
    bad = (not may_lack(field)) if value is MISSING else breaks(field, value)
    if res.returncode == 2 or (bad and FILES[file][1]):  # refused, or read as absent: said with the field
        assert said(res, name, field), (file, field.key, label, res.stdout, res.stderr)


def test_the_issue_s_date_in_plan_json_is_said_by_status(stopped: Path, tmp_path: Path) -> None:
    """The issue's case, whole: `status` exited 70 (ValueError in infra/clock.seconds_since_utc)."""
    res, _ = status_of(stopped, "02_corpus/plan.json", ("started_at_utc",), NOT_A_DATE, tmp_path)
    assert res.returncode == 0, res.stderr
    assert f'02_corpus/plan.json is damaged (plan.json.started_at_utc: "{NOT_A_DATE}" is not a date and time in UTC ' \
           "(YYYY-MM-DDTHH:MM:SSZ)): its jobs are not counted" in res.stdout, res.stdout


def placed(doc: dict[str, Any], at: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    """`doc` with `value` at `at`. Where the run's verdict holds nothing above the field (an empty list, a block it
    leaves out) the declaration's example stands there (tests/unit/test_record_fields.document: it keeps every rule),
    so that every field of every record is reached; a dict's item (`k`) is the run's first."""
    doc = json.loads(json.dumps(doc))
    holder: Any = doc
    like: Any = document(Verdict)
    for step in at[:-1]:
        like = like[step]
        if step == "k" and isinstance(holder, dict) and holder and "k" not in holder:
            step = next(iter(holder))
        if isinstance(holder, list) and not holder:
            holder.append(deepcopy(like))
        elif isinstance(holder, dict) and holder.get(step) is None:
            holder[step] = deepcopy(like)
        holder = holder[step]
    holder[at[-1]] = value
    return doc


def verdict_damaged(out: Path, at: tuple[str | int, ...], value: Any) -> Path:
    """The verdict of `out` with `value` at `at` (placed), recorded in its step's status.json as the verdict step
    wrote it (its sha256 there too): a document the runner's check of the outputs passes, which its readers must
    read."""
    (verdict,) = sorted((out / "04_verdict").glob("PROMOTE.json"))
    changed = placed(json.loads(verdict.read_text()), at, value)
    verdict.write_text(json.dumps(changed))
    status = out / "04_verdict" / "status.json"
    record = json.loads(status.read_text())
    record["outputs"][verdict.relative_to(out).as_posix()] = hashlib.sha256(verdict.read_bytes()).hexdigest()
    status.write_text(json.dumps(record))
    return verdict


@pytest.mark.parametrize(("at", "value"), [(("gate", "mean_plcc"), 5.0), (("corpus", "rows"), -1),
                                           (("consumer", "n_encodes"), "12")])
def test_the_bundle_step_refuses_a_damaged_verdict_naming_the_field(json_run: tuple[Path, object], tmp_path: Path,
                                                                    at: tuple[str, ...], value: Any) -> None:
    """`step bundle` reads the verdict (kit.verdict.document.read_verdict): a value past its field's rule or of
    another type is refused naming the file and the field (exit 2), never an internal error (before: exit 70)."""
    out = tmp_path / "out"
    shutil.copytree(json_run[0], out)
    verdict = verdict_damaged(out, at, value)
    res = run_here("step", "bundle", "--settings", out / "run.json", "--out-dir", out)
    assert res.returncode == 2, (res.returncode, res.stderr[-3000:])
    assert "Traceback" not in res.stdout + res.stderr
    assert f"the verdict is damaged: {verdict}.{'.'.join(at)}" in res.stderr, res.stderr[-3000:]


def one_per_record() -> list[tuple[tuple[str | int, ...], Any]]:
    """A malformed value of one field of each record the verdict holds (its first field a rule or a type breaks)."""
    found: dict[type[Record], tuple[tuple[str | int, ...], Any]] = {}
    for f in walk(Verdict):
        values = [v for v in (*breakers(rules_of(f.f), f.tp), *wrong_types(f.tp)) if breaks(f, v)]
        if f.cls not in found and values and not isinstance(f.at[-1], int):
            found[f.cls] = (f.at, values[0])
    return list(found.values())


@pytest.mark.parametrize(("at", "value"), one_per_record(), ids=[".".join(map(str, at)) for at, _ in one_per_record()])
def test_the_bundle_step_refuses_a_damaged_field_of_each_record_of_the_verdict(
        json_run: tuple[Path, object], tmp_path: Path, at: tuple[str | int, ...], value: Any) -> None:
    """A field of each of the verdict's records (one the run's verdict holds none of stands as its declaration's
    example, placed), as above."""
    out = tmp_path / "out"
    shutil.copytree(json_run[0], out)
    verdict_damaged(out, at, value)
    res = run_here("step", "bundle", "--settings", out / "run.json", "--out-dir", out)
    assert res.returncode == 2 and "Traceback" not in res.stdout + res.stderr, (res.returncode, res.stderr[-3000:])
    assert "the verdict is damaged: " in res.stderr and str(at[-1]) in res.stderr, res.stderr[-3000:]


# -- every path a record names, read back (issue 91, item 5) -------------------------------------------------------
# an absolute path, one that leaves the out-dir through `..`, and one through a link planted where the record's paths
# start (to /tmp): the link is refused as a link, never followed
ESCAPES = ("absolute", "dotdot", "link")
OWN = ["--box-id", "jsonbox"]  # the session run's own box id (a --settings run.json leaves it to the command)


def escaping(how: str, base: Path, name: bool = False) -> str:
    """The value of `how` for a record whose paths start at `base` (`name`: a file's name in it, a job's id)."""
    if how == "link":
        if name:  # jobs/<id>.json a link to a file elsewhere
            (base / "esc.json").symlink_to("/etc/passwd")
            return "esc"
        (base / "esc").symlink_to("/tmp")
        return "esc/passwd" if base.name != base.parent.name else "esc"
    return "/etc/passwd" if how == "absolute" else "../../../../etc/passwd"


def renamed_key(doc: dict[str, Any], holder: str, key: str) -> dict[str, Any]:
    """`doc` with the first key of its `holder` object renamed `key` (its value kept)."""
    held = doc[holder]
    first = next(iter(held))
    doc[holder] = {key if k == first else k: v for k, v in held.items()}
    return doc


def said_of(res: Any, *names: str) -> str:
    """Exit 0 with the damaged record said, or 2 naming it: never 70, never a traceback."""
    said = res.stdout + res.stderr
    assert res.returncode in (0, 2), (res.returncode, res.stderr[-3000:])
    assert "Traceback" not in said
    assert not names or any(name in said for name in names), (names, res.stdout[-2000:], res.stderr[-2000:])
    return said


def copied(json_run: tuple[Path, object], tmp_path: Path) -> Path:
    out = tmp_path / "out"
    shutil.copytree(json_run[0], out, symlinks=True)
    return out


@pytest.mark.parametrize("how", ESCAPES)
@pytest.mark.parametrize("step", ["01_prereqs", "02_corpus", "03_loso", "04_verdict", "05_bundle"])
def test_a_step_s_output_named_out_of_the_out_dir_is_damage_said_by_status(
        json_run: tuple[Path, object], tmp_path: Path, step: str, how: str) -> None:
    """An absolute, `..` or linked key in a step's status.json outputs: `status` (which checks every output a step
    records) says the record damaged and the step to rerun, or the link, where it ended 70 (`ValueError:
    '/etc/passwd' is not in the subpath`) as every later command did."""
    out = copied(json_run, tmp_path)
    status = out / step / "status.json"
    key = escaping(how, out / step)
    key = f"{step}/{key}" if how == "link" else key
    status.write_text(json.dumps(renamed_key(json.loads(status.read_text()), "outputs", key)))
    said_of(run_here("status", out), f"status.json is damaged (status.json.outputs.{key}: the key",
            f"{step}/esc")


@pytest.mark.parametrize("how", ESCAPES)
def test_a_step_whose_record_names_an_output_out_of_the_out_dir_reruns_and_a_later_one_refuses_it(
        json_run: tuple[Path, object], tmp_path: Path, how: str) -> None:
    """The corpus step's record so damaged: `step corpus` reruns it (its jobs reused) and says why; `step loso`,
    which reads what the corpus step made, refuses it naming the file (exit 2) with the run that rebuilds it."""
    out = copied(json_run, tmp_path)
    status = out / "02_corpus" / "status.json"
    key = escaping(how, out / "02_corpus")
    key = f"02_corpus/{key}" if how == "link" else key
    status.write_text(json.dumps(renamed_key(json.loads(status.read_text()), "outputs", key)))
    later = run_here("step", "loso", "--settings", out / "run.json", "--out-dir", out, *OWN)
    said_of(later, "02_corpus/status.json is damaged", "02_corpus/esc")
    assert later.returncode == 2, later.stdout[-2000:]
    again = run_here("step", "corpus", "--settings", out / "run.json", "--out-dir", out, *OWN)
    said = said_of(again, "its status.json is damaged", "output 02_corpus/esc", "02_corpus/esc")
    assert again.returncode == (2 if how == "link" else 0), said[-2000:]


@pytest.mark.parametrize("how", ESCAPES)
@pytest.mark.parametrize("at", ["jobs", "reused"])
def test_a_corpus_plan_naming_a_job_out_of_jobs_is_damage_said_by_status(stopped: Path, tmp_path: Path, at: str,
                                                                        how: str) -> None:
    """02_corpus/plan.json names each job by its id, the name of its files in jobs/: an id that is a path (absolute,
    `..`) is said by `status`; one whose ledger is a link planted there is a job not done, nothing read through it."""
    copy = tmp_path / "out"
    shutil.copytree(stopped, copy, symlinks=True)
    plan = copy / "02_corpus" / "plan.json"
    doc = json.loads(plan.read_text())
    bad = escaping(how, copy / "02_corpus" / "jobs", name=True)
    doc = renamed_key(doc, "jobs", bad) if at == "jobs" else {**doc, "jobs": {**doc["jobs"], bad: 1.0},
                                                              "reused": [bad]}
    plan.write_text(json.dumps(doc))
    res = run_here("status", copy)
    said_of(res, *(() if how == "link" else ("plan.json is damaged",)))
    assert res.returncode == 0, res.stderr[-2000:]


@pytest.mark.parametrize("how", ESCAPES)
def test_a_bundle_ledger_naming_a_file_out_of_05_bundle_is_refused_naming_it(json_run: tuple[Path, object],
                                                                             tmp_path: Path, how: str) -> None:
    """An absolute or `..` key in 05_bundle/ledger.json ended every later bundle 70: refused, exit 2, naming the
    ledger and how to go on (the kit cannot make again the proof of what it wrote); a link, as a link."""
    out = copied(json_run, tmp_path)
    ledger = out / "05_bundle" / "ledger.json"
    key = escaping(how, out / "05_bundle")
    ledger.write_text(json.dumps(renamed_key(json.loads(ledger.read_text()), "files", key)))
    res = run_here("step", "bundle", "--settings", out / "run.json", "--out-dir", out, *OWN, "--force")
    said_of(res, "ledger.json is damaged (ledger.json.files.", "05_bundle/esc")
    assert res.returncode == 2, res.stdout[-2000:]


@pytest.mark.parametrize("how", ["dotdot", "link"])
def test_a_verdict_naming_its_corpus_out_of_the_out_dir_is_refused_by_the_bundle(json_run: tuple[Path, object],
                                                                                tmp_path: Path, how: str) -> None:
    """The verdict's corpus.path (relative to the out-dir, or a --corpus's whole path) leaving the out-dir through
    `..`, or through a link: the bundle, which reads the verdict, refuses it naming the field (exit 2)."""
    out = copied(json_run, tmp_path)
    path = escaping(how, out / "02_corpus")
    verdict_damaged(out, ("corpus", "path"), f"02_corpus/{path}" if how == "link" else path)
    res = run_here("step", "bundle", "--settings", out / "run.json", "--out-dir", out, *OWN)
    said_of(res, "corpus.path", "02_corpus/esc")
    assert res.returncode == 2, res.stdout[-2000:]
