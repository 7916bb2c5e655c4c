"""Merging the shards of two real boxes and a bash-kit JSONL, and training on the union."""

from __future__ import annotations

import hashlib
import io
import json
import re
import sys
import tarfile
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result

from kit.cli.main import cli
from kit.corpus.jsonl import JSONL_REQUIRED
from kit.corpus.schema import SCHEMA
from kit.infra.files import sha256_file
from tests.conftest import FAST, LENIENT, ROOT, TINY_FRAMES, TINY_SOURCES, run_kit

pytestmark = pytest.mark.slow

N_ROWS = len(TINY_SOURCES) * 2 * TINY_FRAMES  # clips x cqs x frames, per box


def merge(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, ["merge", *map(str, args)])


def write_jsonl(shard: Path, dest: Path, src: str = "delta", rename: str = "legacy-delta") -> Path:
    """Bash-kit rows: the JSONL fields only, from one source of a real shard, under another name."""
    table = pq.read_table(shard)
    rows = table.filter(pc.equal(table["src"], src)).select(list(JSONL_REQUIRED)).to_pylist()
    dest.write_text("".join(json.dumps({**r, "src": rename}) + "\n" for r in rows))
    return dest


@pytest.fixture(scope="module")
def boxes(tiny_refs: Path, x264_run: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two boxes (own out-dir, box id and encoder) and a bash-kit JSONL; box A is the session's x264_run."""
    root = tmp_path_factory.mktemp("boxes")
    res = run_kit("run", "--ref-dir", tiny_refs, "--out-dir", root / "boxb", "--box-id", "boxb", "--encoders",
                  "libx265", *FAST, *LENIENT)
    assert res.returncode == 0, res.stdout + res.stderr
    found: dict[str, Path] = {}
    for box, out in (("boxa", x264_run), ("boxb", root / "boxb")):
        (found[box],) = (out / "05_bundle").glob(f"results-{box}-*.tar.gz")
        found[f"{box}_shard"] = out / "02_corpus" / "shard.parquet"
    found["jsonl"] = write_jsonl(found["boxa_shard"], root / "legacy rows.jsonl")
    return found


def test_two_boxes_and_a_jsonl_merge_and_train_on_the_union(boxes: dict[str, Path], tmp_path: Path) -> None:
    merged = tmp_path / "union" / "merged.parquet"
    res = run_kit("merge", boxes["boxa"], boxes["boxb"], boxes["jsonl"], "-o", merged)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "boxes bash-kit, boxa, boxb" in res.stdout
    manifest = json.loads((tmp_path / "union" / "merged.manifest.json").read_text())
    assert manifest["sha256"] == sha256_file(merged) and manifest["rows"] == 2 * N_ROWS + TINY_FRAMES * 2
    assert sorted(i["kind"] for i in manifest["inputs"]) == ["jsonl", "tarball", "tarball"]
    assert all(i["read"] == i["kept"] and len(i["sha256"]) == 64 for i in manifest["inputs"])
    table = pq.read_table(merged)
    assert table.schema.equals(SCHEMA, check_metadata=False)

    out = tmp_path / "union run"
    res = run_kit("--corpus", merged, "--out-dir", out, "--box-id", "lead", "--encoders", "libx264", *FAST, *LENIENT,
                  entry=[sys.executable, str(ROOT / "kit" / "run_full_pipeline.py")])
    assert res.returncode == 0, res.stdout + res.stderr
    verdict = json.loads((out / "04_verdict" / "PROMOTE.json").read_text())
    corpus = verdict["corpus"]
    assert corpus["boxes"] == ["bash-kit", "boxa", "boxb"]
    assert corpus["encoders"] == ["libx264", "libx265"] and len(corpus["devices"]) >= 1
    assert corpus["corpus_kind"] == "merged" and len(corpus["merged_from"]) == 3
    # one fold per content: the four clips both boxes encoded are four folds, not eight; the JSONL source is a fifth
    assert corpus["n_sources"] == len(TINY_SOURCES) + 1
    report = json.loads((out / "03_loso" / "loso_seed0.json").read_text())
    assert report["n_folds"] == len(TINY_SOURCES) + 1
    html = (out / "05_bundle" / "report.html").read_text()
    assert "boxa" in html and "boxb" in html and boxes["boxb"].name in html


def test_merge_is_order_independent_and_idempotent(boxes: dict[str, Path], tmp_path: Path) -> None:
    a, b, j = boxes["boxa"], boxes["boxb"], boxes["jsonl"]
    outs = []
    for i, order in enumerate(([a, b, j], [j, b, a], [a, b, j, a], [b, boxes["boxa_shard"], j, a])):
        out = tmp_path / f"m{i}.parquet"
        res = merge(*order, "-o", out)
        assert res.exit_code == 0, res.output
        outs.append(out.read_bytes())
    assert outs[0] == outs[1] == outs[2] == outs[3]  # A+B == B+A == A+B+A, byte for byte
    again = tmp_path / "again.parquet"
    assert merge(tmp_path / "m0.parquet", a, "-o", again).exit_code == 0  # merging into the union changes nothing
    assert again.read_bytes() == outs[0]
    manifest = json.loads((tmp_path / "m3.manifest.json").read_text())
    counts = {i["name"]: (i["read"], i["kept"], i["duplicate"], i["conflict"]) for i in manifest["inputs"]}
    assert counts[a.name] == (N_ROWS, N_ROWS, 0, 0)  # "results-..." sorts before "shard.parquet": it wins
    assert counts["shard.parquet"] == (N_ROWS, 0, N_ROWS, 0)


def _edited_copy(shard: Path, dest: Path, rows: list[int], delta: float) -> Path:
    table = pq.read_table(shard)
    vmaf = table["vmaf"].to_numpy().copy()
    vmaf[rows] = (vmaf[rows] + delta).clip(0, 100)
    pq.write_table(table.set_column(table.schema.get_field_index("vmaf"), "vmaf", pa.array(vmaf)), dest)
    return dest


def test_conflicts_fail_unless_a_rule_is_given(boxes: dict[str, Path], tmp_path: Path) -> None:
    shard = boxes["boxa_shard"]
    edited = _edited_copy(shard, tmp_path / "zz-edited.parquet", [1, 5, 9], delta=-0.5)
    out = tmp_path / "m.parquet"
    res = merge(shard, edited, "-o", out)
    assert res.exit_code == 2 and not out.exists()
    assert "error: 3 key(s) hold different scores" in res.stderr and "--prefer" in res.stderr
    conflicts = [ln for ln in res.stderr.splitlines() if ln.startswith("conflict: ")]
    assert len(conflicts) == 3 and all("vmaf" in c and "zz-edited.parquet" in c for c in conflicts)

    res = merge(edited, shard, "-o", out, "--prefer", "first")
    assert res.exit_code == 0, res.output
    manifest = json.loads((tmp_path / "m.manifest.json").read_text())
    counts = {i["name"]: (i["kept"], i["duplicate"], i["conflict"]) for i in manifest["inputs"]}
    assert counts == {"shard.parquet": (N_ROWS, 0, 0), "zz-edited.parquet": (0, N_ROWS - 3, 3)}
    assert manifest["conflicts"]["keys"] == 3 and manifest["prefer"] == "first"
    first = out.read_bytes()
    # newest: the edited copy says it was made later, so its three rows win, whatever the argument order
    (tmp_path / "zz-edited.manifest.json").write_text(json.dumps(
        {"sha256": sha256_file(edited), "created_at_utc": "2099-01-01T00:00:00Z"}))
    for order in ((shard, edited), (edited, shard)):
        assert merge(*order, "-o", out, "--prefer", "newest").exit_code == 0
        assert out.read_bytes() != first
        assert sorted(pq.read_table(out)["vmaf"].to_pylist()) == sorted(pq.read_table(edited)["vmaf"].to_pylist())


def _evil_tarball(path: Path, member: tarfile.TarInfo, data: bytes = b"pwned") -> Path:
    with tarfile.open(path, "w:gz") as tar:
        ok = tarfile.TarInfo("results-x/02_corpus/shard.manifest.json")
        ok.size = 2
        tar.addfile(ok, io.BytesIO(b"{}"))
        tar.addfile(member, io.BytesIO(data) if member.isfile() else None)
    return path


# every kind is refused by the reader in tests/unit/test_tarball_safety.py, and through `merge` here
@pytest.mark.parametrize("kind", ["traversal", "symlink", "absolute", "hardlink", "device"])
def test_malicious_tarball_is_refused_and_writes_nothing(tmp_path: Path, kind: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "work"
    scratch = tmp_path / "scratch"
    work.mkdir()
    scratch.mkdir()
    member = tarfile.TarInfo({"traversal": "results-x/../../../escaped.txt", "absolute": str(tmp_path / "abs.txt")}
                             .get(kind, "results-x/02_corpus/shard.parquet"))
    member.size = 5
    if kind in ("symlink", "hardlink"):
        member.type = tarfile.SYMTYPE if kind == "symlink" else tarfile.LNKTYPE
        member.linkname, member.size = str(tmp_path / "target.parquet"), 0
    elif kind == "device":
        member.type, member.size = tarfile.CHRTYPE, 0
    evil = _evil_tarball(work / "results-evil.tar.gz", member)
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # the only place the merge may extract into
    res = merge(evil, "-o", work / "merged.parquet")
    assert res.exit_code == 2, res.output
    assert "results-evil.tar.gz" in res.stderr and any(
        w in res.stderr for w in ("unsafe member path", "is a link", "device or special"))
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["results-evil.tar.gz", "scratch", "work"]


@pytest.mark.parametrize(("edit", "needles"), [
    (lambda t: t.drop_columns(["device"]), ["column 'device' is missing"]),
    (lambda t: t.set_column(t.schema.get_field_index("vmaf"), "vmaf",
                            pa.array([150.0 if i == 5 else v for i, v in enumerate(t["vmaf"].to_pylist())])),
     ["row 5 column 'vmaf'", "150.0 is outside [0, 100]"]),
    (lambda t: t.set_column(t.schema.get_field_index("cq"), "cq",
                            pa.array(["abc" if i == 2 else str(v) for i, v in enumerate(t["cq"].to_pylist())])),
     ["row 2 column 'cq'", "'abc'"]),
    (lambda t: t.set_column(t.schema.get_field_index("encoder"), "encoder",
                            pa.array(["x999" if i == 7 else v for i, v in enumerate(t["encoder"].to_pylist())])),
     ["row 7 column 'encoder'", "'x999'"]),
])
def test_parquet_schema_errors_name_file_row_and_column(boxes: dict[str, Path], tmp_path: Path, edit,  # type: ignore[no-untyped-def]
                                                        needles: list[str]) -> None:
    bad = tmp_path / "bad shard.parquet"
    pq.write_table(edit(pq.read_table(boxes["boxa_shard"])), bad)
    res = merge(boxes["boxb"], bad, "-o", tmp_path / "m.parquet")
    assert res.exit_code == 2 and "Traceback" not in res.output
    (error,) = [ln for ln in res.stderr.splitlines() if ln.startswith("error: ")]
    assert str(bad) in error and all(n in error for n in needles), error
    assert not (tmp_path / "m.parquet").exists()


@pytest.mark.parametrize(("line", "needles"), [
    ('{"src": "x", "encoder": "libx264"}', ["line 3 column 'cq': missing"]),
    (None, ["line 2 column 'vmaf'", "'high' is not a number"]),
    ("not json", ["line 3: not valid JSON"]),
    ('[1, 2]', ["line 3: a JSON list, not an object"]),
])
def test_jsonl_errors_name_file_line_and_column(boxes: dict[str, Path], tmp_path: Path, line: str | None,
                                                needles: list[str]) -> None:
    rows = boxes["jsonl"].read_text().splitlines()[:4]
    if line is None:
        rows[1] = json.dumps({**json.loads(rows[1]), "vmaf": "high"})
    else:
        rows[2] = line
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(rows) + "\n")
    res = merge(bad, "-o", tmp_path / "m.parquet")
    assert res.exit_code == 2, res.output
    (error,) = [ln for ln in res.stderr.splitlines() if ln.startswith("error: ")]
    assert str(bad) in error and all(n in error for n in needles), error


def test_jsonl_identity_is_a_namespaced_name_hash(boxes: dict[str, Path], tmp_path: Path) -> None:
    copy = tmp_path / "copy.jsonl"
    copy.write_text(boxes["jsonl"].read_text().replace(", ", ",  "))  # other bytes, the same rows
    out = tmp_path / "m.parquet"
    assert merge(boxes["jsonl"], copy, "-o", out).exit_code == 0
    table = pq.read_table(out)
    assert table.num_rows == TINY_FRAMES * 2  # the second file's rows are duplicates
    expected = hashlib.sha256(b"bash-kit-jsonl:legacy-delta").hexdigest()
    assert set(table["src_sha256"].to_pylist()) == {expected}
    assert set(table["box_id"].to_pylist()) == {"bash-kit"} and set(table["device"].to_pylist()) == {"unknown"}


def test_corpus_info_summarises_any_corpus(boxes: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "m.parquet"
    assert merge(boxes["boxa"], boxes["boxb"], "-o", out).exit_code == 0
    res = CliRunner().invoke(cli, ["corpus", "info", str(out), "--json"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout)
    assert info["rows"] == 2 * N_ROWS and info["n_sources"] == len(TINY_SOURCES)
    assert info["boxes"] == ["boxa", "boxb"] and info["encoders"] == ["libx264", "libx265"]
    assert info["cq_grid"] == [25, 37] and 0 <= info["vmaf_range"][0] < info["vmaf_range"][1] <= 100
    assert info["grids"] == {"libx264": [25, 37], "libx265": [25, 37]} and info["rungs"] == ["native"]
    assert info["manifest_kind"] == "merged"
    for path in (boxes["jsonl"], boxes["boxb"], boxes["boxa_shard"]):
        res = CliRunner().invoke(cli, ["corpus", "info", str(path)])
        assert res.exit_code == 0, res.output
        assert "rows" in res.stdout and re.search(r"cq grid   libx26[45]: 25, 37\n", res.stdout), res.stdout
        assert "rungs     native" in res.stdout
    assert "boxes     boxb" in CliRunner().invoke(cli, ["corpus", "info", str(boxes["boxb"])]).stdout
    # a run's out-dir stands for the corpus its corpus step wrote, as merge reads it
    run_dir = boxes["boxa_shard"].parent.parent
    by_dir = json.loads(CliRunner().invoke(cli, ["corpus", "info", str(run_dir), "--json"]).stdout)
    by_file = json.loads(CliRunner().invoke(cli, ["corpus", "info", str(boxes["boxa_shard"]), "--json"]).stdout)
    assert by_dir == by_file and by_dir["path"] == str(boxes["boxa_shard"])


@pytest.mark.parametrize("damage", ["corrupted page", "two vmaf columns", "1e308 feature"])
def test_run_on_a_damaged_corpus_is_refused_cleanly(tmp_path: Path, damage: str) -> None:
    from tests.kitfiles import flip_data_page, shard_table, write_shard

    table = shard_table(n_src=4)
    if damage == "1e308 feature":
        values = table["adm2"].to_pylist()
        values[9] = 1e308
        table = table.set_column(table.schema.get_field_index("adm2"), "adm2", pa.array(values, pa.float64()))
    bad = write_shard(tmp_path / "corpus.parquet", table)
    if damage == "corrupted page":
        flip_data_page(bad, "vif_scale1")
    elif damage == "two vmaf columns":
        pq.write_table(pa.table([*table.columns, table["vmaf"]], names=[*table.column_names, "vmaf"]), bad)
    res = run_kit("run", "--corpus", bad, "--out-dir", tmp_path / "out", *FAST)
    assert res.returncode == 2, res.stdout + res.stderr
    assert "Traceback" not in res.stderr and str(bad) in res.stderr
    needle = {"corrupted page": "damaged parquet: ", "two vmaf columns": "column 'vmaf' appears 2 times",
              "1e308 feature": "row 9 column 'adm2': 1e+308 is outside [0, 2]"}[damage]
    assert needle in res.stderr, res.stderr


@pytest.mark.slow
def test_run_on_a_corpus_of_doubled_rows_trains_on_each_row_once(tmp_path: Path) -> None:
    """Every row twice (the copy with another measured enc_time_ms, as a second run of one box gives): `run --corpus`
    drops the copies by merge's rule, says how many on the terminal and in LOSO's log, and trains on each row once."""
    from kit.corpus.schema import corpus_sha256
    from kit.rundir import RunDir
    from tests.kitfiles import shard_table, write_shard

    table = shard_table(n_src=4)
    copy = table.set_column(table.column_names.index("enc_time_ms"), "enc_time_ms",
                            pa.array([7.5] * table.num_rows, pa.float64()))
    doubled = write_shard(tmp_path / "doubled.parquet", pa.concat_tables([table, copy]))
    out = tmp_path / "out"
    # --recipe frames: the synthetic rows' vmaf is no teacher's function of their six features, which the teacher
    # recipe (the default since 2.1.0) proves before it distils, and refuses (exit 2) where it does not hold
    res = run_kit("run", "--corpus", doubled, "--out-dir", out, *FAST, *LENIENT, "--recipe", "frames")
    assert res.returncode in (0, 1), res.stdout + res.stderr
    line = f"{table.num_rows} duplicate row(s) dropped from {doubled}"
    assert line in res.stdout and f"training on {table.num_rows} rows" in res.stdout, res.stdout
    assert f"duplicates_dropped {table.num_rows}" in res.stdout  # the step's closing line
    run = RunDir(out)
    assert line in run.log("loso").read_text()
    report = json.loads(run.loso_seed(0).read_text())
    assert report["corpus"]["rows"] == table.num_rows  # each row once
    assert report["corpus"]["sha256"] == corpus_sha256(doubled)  # the identity of the file it was given
    once = write_shard(tmp_path / "once.parquet", table)
    assert corpus_sha256(once) != corpus_sha256(doubled)


def test_two_boxes_of_one_box_id_are_told_apart_and_each_keeps_its_left_out_clip(ffmpeg: str, tiny_refs: Path,
                                                                                   tmp_path: Path) -> None:
    """Two real boxes run with one box id (a cloned machine: the default id is the host name), each on its own three
    clips and each leaving out its own `odd.y4m` (two different clips of one name, each of an odd size): the merge
    says the shared id, in a line and in its manifest, and keeps both left-out clips, each named by its input, and
    every row (issue 75, item 4; before, both were keyed (box, file) and one was dropped without a word). Run
    directories are unsigned: no run of either supersedes the other (a box's signed tarballs do: issue 96,
    tests/pipeline/test_one_box_reruns.py; two keys under one box id are refused: tests/pipeline/test_box_keys.py)."""
    import shutil

    from tests.conftest import render, run_here

    cheap = ["--encoders", "libx264", "--cqs", "37", "--scales", "native"]
    prereqs = tmp_path / "prereqs"
    assert run_here("step", "prereqs", "--out-dir", prereqs, *cheap).returncode == 0
    names = sorted(TINY_SOURCES)
    boxes = {}
    # three contents each (LOSO's floor), none shared: two of the tiny clips and one of the box's own
    for box, clips, own, odd in (("boxA", names[:2], "smptebars", "175x143"), ("boxB", names[2:], "rgbtestsrc",
                                                                             "177x145")):
        refs = tmp_path / box / "refs"
        refs.mkdir(parents=True)
        for name in clips:
            shutil.copy(tiny_refs / f"{name}.y4m", refs / f"{name}.y4m")
        render(ffmpeg, f"{own}=s=176x144:r=25", refs / f"{own}.y4m")
        render(ffmpeg, f"testsrc=s={odd}:r=25", refs / "odd.y4m", pix_fmt="yuv444p")
        out = tmp_path / box / "out"
        shutil.copytree(prereqs / "01_prereqs", out / "01_prereqs")
        res = run_here("step", "corpus", "--ref-dir", refs, "--out-dir", out, "--box-id", "clone", *cheap)
        assert res.returncode == 0, res.stdout + res.stderr
        boxes[box] = out
    merged = tmp_path / "union.parquet"
    res = run_here("merge", boxes["boxA"], boxes["boxB"], "-o", merged)
    assert res.returncode == 0, res.stderr
    manifest = json.loads((tmp_path / "union.manifest.json").read_text())
    inputs = ["boxA/out/02_corpus/shard.parquet", "boxB/out/02_corpus/shard.parquet"]  # their names alone repeat
    assert manifest["shared_box_ids"] == [{"box_id": "clone", "inputs": inputs}]
    said = [ln for ln in res.stderr.splitlines() if "box id clone is held by 2 inputs" in ln]
    assert len(said) == 1 and "give each box its own --box-id" in said[0], res.stderr
    assert sorted((u["input"], u["file"], u["why"].split(" has ")[0]) for u in manifest["left_out"]) == [
        (inputs[0], "odd.y4m", "175x143"), (inputs[1], "odd.y4m", "177x145")]
    for one in inputs:
        assert f"left out on box clone (input {one}): odd.y4m: " in res.stdout, res.stdout
    rows = [pq.read_metadata(b / "02_corpus" / "shard.parquet").num_rows for b in boxes.values()]
    assert manifest["rows"] == sum(rows) and all(rows)
    # one box given twice is one corpus, never a shared id
    again = run_here("merge", boxes["boxA"], boxes["boxA"] / "02_corpus" / "shard.parquet", "-o",
                     tmp_path / "again.parquet")
    assert again.returncode == 0 and "is held by" not in again.stderr, again.stderr
    assert json.loads((tmp_path / "again.manifest.json").read_text())["shared_box_ids"] == []
