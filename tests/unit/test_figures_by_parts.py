"""The verdict's and the bundle's figures computed by parts (on codes, a row group or a part of the rows at a time,
for the memory of a 10,000-content union: bench/README.md#scale-10000) against the plain computation on the same
data: the same values, whatever the split."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kit.bundle.texts import distinct_texts
from kit.corpus.summary import rung_labels
from kit.model.metrics import residuals
from kit.report.frames import coverage_by_source, held_out, quality_rows
from kit.verdict.assess import completeness
from kit.verdict.breakdown import GROUPINGS, breakdown, errors_of, quality_key, resolution_class

SHAS = [f"{i:064x}" for i in range(6)]


def frames(draw: st.DrawFn) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(meta as the verdict reads the corpus, some corpus rows dropped as duplicates; predictions of some seeds,
    some rows missing and some NaN) of a few sources, drawn."""
    n = draw(st.integers(1, 40))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    src = rng.integers(0, len(SHAS), n)
    meta = pd.DataFrame({"src": [f"s{s}" for s in src], "src_sha256": [SHAS[s] for s in src],
                         "content": [SHAS[s % 3] for s in src], "encoder": rng.choice(["libx264", "libx265"], n),
                         "cq": rng.choice([10, 24, 51], n).astype(np.int32), "box_id": rng.choice(["a", "b"], n),
                         "height": rng.choice([240, 720, 1080], n).astype(np.int32),
                         "enc_height": rng.choice([0, 360, 720], n).astype(np.int32)})
    meta["src"], meta["src_sha256"], meta["content"] = (meta[c].astype("str") for c in ("src", "src_sha256",
                                                                                           "content"))
    rows = np.sort(rng.choice(n + 10, n, replace=False))  # numbered before the duplicates were dropped
    meta = meta.assign(corpus_row=rows).set_index("corpus_row", drop=False)
    seeds = draw(st.lists(st.integers(0, 6), min_size=0, max_size=3, unique=True))
    y = rng.uniform(0, 100, n)
    preds = pd.concat([pd.DataFrame({"seed": np.int32(s), "corpus_row": rows, "vmaf": y,
                                     "pred": y + rng.normal(0, 3, n)}) for s in seeds]
                      or [pd.DataFrame({"seed": pd.Series([], dtype=np.int32), "corpus_row": pd.Series([], dtype=int),
                                        "vmaf": pd.Series([], dtype=float), "pred": pd.Series([], dtype=float)})],
                      ignore_index=True)
    preds = preds[rng.random(len(preds)) > draw(st.sampled_from([0.0, 0.1]))]  # a failed fold's rows
    preds.loc[rng.random(len(preds)) < draw(st.sampled_from([0.0, 0.05])), "pred"] = np.nan  # a diverged member
    return meta, preds.reset_index(drop=True)


def plain_completeness(meta: pd.DataFrame, predictions: pd.DataFrame) -> tuple[int, int, list[str]]:
    """kit 2.4's count: a frame of every predicted row's source name, grouped."""
    seeds = sorted(int(s) for s in predictions["seed"].unique())
    ok = predictions[predictions["pred"].notna()]
    src = meta.loc[ok["corpus_row"].to_numpy(), "src_sha256"].to_numpy()
    counts = pd.DataFrame({"src": src, "seed": ok["seed"].to_numpy()}).groupby(["src", "seed"]).size()
    table = counts.unstack(fill_value=0).reindex(columns=seeds, fill_value=0)
    sizes = meta.groupby("src_sha256").size()
    complete = set(table.index[(table.to_numpy() == sizes.loc[table.index].to_numpy()[:, None]).all(axis=1)])
    expected = meta.drop_duplicates("src_sha256")
    missing = sorted(str(r.src) for r in expected.itertuples() if r.src_sha256 not in complete)
    return len(expected), len(expected) - len(missing), missing


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_completeness_on_codes_is_the_plain_count(data: st.DataObject) -> None:
    meta, preds = frames(data.draw)
    c = completeness(meta, preds)
    assert (c.expected_sources, c.with_results, c.missing) == plain_completeness(meta, preds)
    assert c.passed == (not c.missing)


def plain_labels(rows: pd.DataFrame, by: str) -> np.ndarray:
    """kit 2.4's labels: a Python string a row."""
    if by in ("encoder", "box", "source"):
        return rows[{"box": "box_id", "source": "src"}.get(by, by)].astype(str).to_numpy()
    if by == "resolution":
        return rows["height"].map(resolution_class).to_numpy()
    if by == "rung":
        return np.array(rung_labels(rows), dtype=object)
    return np.array([quality_key(str(e), int(c)) for e, c in zip(rows["encoder"], rows["cq"], strict=True)],
                    dtype=object)


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_the_breakdown_by_codes_is_the_plain_groupby(data: st.DataObject) -> None:
    meta, _ = frames(data.draw)
    rows = meta.assign(vmaf=np.linspace(0, 100, len(meta)), pred=np.linspace(3, 97, len(meta)) ** 1.01)
    rows = rows.assign(lo_95=rows["pred"] - 5, hi_95=rows["pred"] + 5, lo=rows["pred"] - 5, hi=rows["pred"] + 5,
                       std=1.0, frame_index=0).reset_index(drop=True)
    plain = tuple(errors_of(by, str(name), part) for by in GROUPINGS
                  for name, part in rows.groupby(plain_labels(rows, by), sort=True))
    said = [json.dumps(g.to_json(), sort_keys=True) for g in breakdown(rows)]
    assert said == [json.dumps(g.to_json(), sort_keys=True) for g in plain]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_the_held_out_rows_gathered_by_batches_and_distinct_texts_by_row_group_are_the_plain(
        tmp_path: Path, data: st.DataObject) -> None:
    """The report's figures of every held-out row (frames.held_out, a batch at a time, sums for the pooled figures)
    against pandas' table of every row's mean over the seeds (the 2.6 report's) and metrics.residuals of it. Each
    row's mean is the same to 1e-12 (pandas sums a group with Kahan's compensation), the pooled figures to 1e-9."""
    meta, preds = frames(data.draw)
    table = preds.assign(src_sha256=meta.loc[preds["corpus_row"], "src_sha256"].to_numpy(),
                         encoder=meta.loc[preds["corpus_row"], "encoder"].to_numpy(),
                         cq=meta.loc[preds["corpus_row"], "cq"].to_numpy())
    table = table.astype({"src_sha256": "str", "encoder": "str", "cq": np.int32})  # typed when empty too
    path = tmp_path / "predictions.parquet"
    group = data.draw(st.integers(1, 50))  # the row groups' size: the parts the texts are read by
    pq.write_table(pa.Table.from_pandas(table, preserve_index=False), path, row_group_size=group)
    seeds = data.draw(st.lists(st.integers(0, 6), max_size=3, unique=True))
    names = {SHAS[0]: "named"}
    whole = pd.read_parquet(path)
    whole = whole[whole["seed"].isin(seeds)]
    plain = whole.groupby("corpus_row", sort=True).agg(
        src_sha256=("src_sha256", "first"), encoder=("encoder", "first"), cq=("cq", "first"),
        vmaf=("vmaf", "first"), pred=("pred", "mean")).reset_index(drop=True)
    plain.insert(0, "src", [names.get(s, s[:12]) for s in plain["src_sha256"]])
    panel = sorted(set(plain["src"]))[:data.draw(st.integers(0, 3))]
    with parts(chunk=data.draw(st.sampled_from([1, 3, 1 << 22])), batch=data.draw(st.integers(1, 60))):
        got = held_out(path, seeds, names, panel, quality=True)
    assert got.n == len(plain) and got.names == tuple(sorted(set(plain["src"])))
    shown = plain[plain["src"].isin(panel)].reset_index(drop=True)
    pd.testing.assert_frame_equal(got.panels.drop(columns="pred"), shown.drop(columns="pred"), check_dtype=False,
                                  check_index_type=False, check_column_type=False)
    assert np.allclose(got.panels["pred"], shown["pred"], rtol=1e-12, atol=0, equal_nan=True)
    every = held_out(path, seeds, names, sorted(set(plain["src"]))).panels  # every row: a seed's NaN skipped, as pandas
    assert np.allclose(every["pred"], plain["pred"], rtol=1e-12, atol=0, equal_nan=True)
    r = residuals(plain["pred"], plain["vmaf"])
    for figure in ("plcc", "rmse", "share_out_of_range"):
        assert np.isclose(getattr(got, figure), getattr(r, figure), rtol=1e-9, atol=1e-12, equal_nan=True), figure
    lo, hi = figures_span(plain) if len(plain) else (-5.0, 105.0)
    assert np.allclose(got.span, (lo, hi), rtol=1e-12)
    finite = plain[np.isfinite(plain["pred"])]
    plain_density = np.histogram2d(finite["vmaf"], finite["pred"], bins=len(got.density), range=[got.span] * 2)[0]
    assert (got.density == plain_density).all() and got.density.sum() == len(finite)
    plain_quality = quality_rows(plain)
    assert [(g.group, g.n_frames, g.n_sources) for g in got.quality] == \
        [(g.group, g.n_frames, g.n_sources) for g in plain_quality]
    assert np.allclose([g.rmse for g in got.quality], [g.rmse for g in plain_quality], rtol=1e-9, equal_nan=True)
    f = pq.ParquetFile(path)
    for name in ("src_sha256", "encoder"):
        assert distinct_texts(f, name) == {v for v in whole_texts(path, name) if v is not None}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_coverage_by_source_counted_by_batches_is_the_plain_groupby(tmp_path: Path, data: st.DataObject) -> None:
    """Each source's share of rows inside its interval at each level, counted a batch at a time, against the 2.6
    report's pandas table of every row (a row unbounded at a level: the source's share there NaN)."""
    n = data.draw(st.integers(0, 60))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    y = rng.uniform(0, 100, n)
    table = pd.DataFrame({"src_sha256": pd.Series(rng.choice([*SHAS[:4], None], n), dtype="str"), "vmaf": y,
                          "pred": y + rng.normal(0, 2, n)})
    for suffix in ("", "_80", "_95"):
        width = rng.uniform(0, 6, n)
        lo, hi = table["pred"] - width, table["pred"] + width
        lo[rng.random(n) < data.draw(st.sampled_from([0.0, 0.05]))] = np.nan  # unbounded: too few groups
        table[f"lo{suffix}"], table[f"hi{suffix}"] = lo, hi
    path = tmp_path / "intervals.parquet"
    pq.write_table(pa.Table.from_pandas(table, preserve_index=False), path,
                   row_group_size=data.draw(st.integers(1, 30)))
    with parts(batch=data.draw(st.integers(1, 40))):
        got = coverage_by_source(path)
    known = table[table["src_sha256"].notna()]
    y = known["vmaf"]
    frame = pd.DataFrame({key: ((known[f"lo{s}"] <= y) & (y <= known[f"hi{s}"])).where(
        known[[f"lo{s}", f"hi{s}"]].notna().all(axis=1)) for key, s in (("nominal", ""), ("80", "_80"),
                                                                       ("95", "_95"))}).astype(float)
    by = frame.groupby(known["src_sha256"])
    plain = by.mean().where(~frame.isna().groupby(known["src_sha256"]).any())
    pd.testing.assert_frame_equal(got, plain, check_index_type=False, check_column_type=False, check_names=False)


def figures_span(plain: pd.DataFrame) -> tuple[float, float]:
    """The report's square around every finite teacher and prediction, as figures.span computes it."""
    from kit.report.figures import span

    return span(plain["vmaf"], plain["pred"])


@contextlib.contextmanager
def parts(chunk: int | None = None, batch: int | None = None) -> Iterator[None]:
    """For the block: the held-out rows summed `chunk` rows of their range at a time (kit.report.frames.CHUNK_ROWS),
    parquet read `batch` rows at a time (kit.infra.parquet.BATCH_ROWS)."""
    from kit.infra import parquet
    from kit.report import frames as report_frames

    with pytest.MonkeyPatch.context() as patch:
        if chunk is not None:
            patch.setattr(report_frames, "CHUNK_ROWS", chunk)
        if batch is not None:
            patch.setattr(parquet, "BATCH_ROWS", batch)
        yield


def whole_texts(path: Path, name: str) -> list[str | None]:
    return pq.read_table(path, columns=[name]).column(0).to_pylist()


def test_the_breakdown_parts_hold_only_the_columns_its_figures_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each group's part is a copy of what it holds: the corpus columns beside the figures' (texts a row, sizes)
    were most of the verdict's peak at 10,000 contents."""
    from kit.verdict import breakdown as module

    rows = pd.DataFrame({"src": ["a", "b"], "src_sha256": SHAS[:2], "content": SHAS[:2], "encoder": "libx264",
                         "cq": np.int32(24), "box_id": "x", "height": np.int32(720), "enc_height": np.int32(360),
                         "frame_index": 0, "vmaf": [50.0, 60.0], "pred": [51.0, 59.0], "std": 1.0,
                         "lo_95": [40.0, 50.0], "hi_95": [60.0, 70.0], "lo": [40.0, 50.0], "hi": [60.0, 70.0]})
    seen: list[list[str]] = []
    plain = module.errors_from
    monkeypatch.setattr(module, "errors_from", lambda by, group, columns, n: seen.append(list(columns))
                        or plain(by, group, columns, n))
    breakdown(rows)
    assert seen and all(c == ["vmaf", "pred", "lo_95", "hi_95", "lo", "hi"] for c in seen)


def test_a_tables_texts_are_read_a_row_group_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sent tables' texts (kit.bundle.texts) never read a table whole: at 10,000 contents the held-out
    predictions' ten text columns, a Python string a row, were the bundle's peak."""
    from kit.bundle import texts
    from kit.infra.kinds import Names

    path = tmp_path / "predictions.parquet"
    pq.write_table(pa.table({"src_sha256": SHAS * 3, "seed": list(range(18))}), path, row_group_size=4)

    def whole(*args: object, **kwargs: object) -> None:
        raise AssertionError("the whole table read")

    monkeypatch.setattr(pq, "read_table", whole)
    found = [v for f, _, v, _ in texts.parquet_texts(path, "03_loso/predictions.parquet",
                                                      Names())
             if f == "src_sha256"]
    assert found == sorted(SHAS)


def test_the_records_that_grow_past_the_general_json_bound_are_sent_and_another_record_is_not() -> None:
    """At 10,000 contents the verdict is 79 MB: the catalogue's check read it to the kit's general 64 MiB bound and the
    bundle ended in exit 70; at 50,000 LOSO's baselines are 171 MB and each seed report 42. They read to their own
    bound (kit.infra.limits.MAX_GROWING_JSON_BYTES); the catalogue's other JSON to the general one."""
    from kit.bundle.texts import checked_members
    from kit.infra.limits import MAX_JSON_BYTES
    from kit.infra.outside import JsonRefused

    big = b'{"per_source_note": "' + b"a" * (MAX_JSON_BYTES + 1) + b'"}'
    for grows in ("04_verdict/PROMOTE.json", "03_loso/loso_seed0.json", "03_loso/loso_seed17.json",
                  "03_loso/baselines.json"):
        checked_members(lambda arc: big, [grows], {})  # read, its unknown key left out
    for other in ("03_loso/training.json", "03_loso/loso_seed0x.json", "04_verdict/calibration.json"):
        with pytest.raises(JsonRefused):
            checked_members(lambda arc: big, [other], {})


def test_each_sent_member_is_read_and_parsed_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bundle's check of what it sends (checked_members, then check_tables against the names as sent) reads each
    JSON member and each step log once and parses each JSON member once: the verdict of a 10,000-content union is
    79 MB, which 2.6.0's bundle parsed twice (check_tables loaded every JSON member again)."""
    from collections import Counter

    from kit.bundle import texts

    files = {"04_verdict/PROMOTE.json": b'{"verdict": "PROMOTE", "per_source_note": "x"}',
             "03_loso/loso_seed0.json": b'{"seed": 0}', "03_loso/logs/loso.log": b"12:00:00 lee's secret line\n"}
    paths = {}
    for arc, data in files.items():
        (tmp_path / arc).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / arc).write_bytes(data)
        paths[arc] = tmp_path / arc
    reads: Counter[str] = Counter()
    parsed: Counter[bytes] = Counter()
    real_load = texts.load_json

    def counted_load(data: bytes, *args: object) -> object:
        parsed[bytes(data)] += 1
        return real_load(data, *args)  # type: ignore[arg-type]

    def read(arc: str) -> bytes:
        reads[arc] += 1
        return paths[arc].read_bytes()

    monkeypatch.setattr(texts, "load_json", counted_load)
    out, names = texts.checked_members(read, list(files), {})
    texts.check_tables(paths, names)
    assert reads == Counter({arc: 1 for arc in files})
    assert parsed == Counter({data: 1 for arc, data in files.items() if arc.endswith(".json")})
    assert b"lee" not in out["03_loso/logs/loso.log"]  # a line no message matches: withheld
