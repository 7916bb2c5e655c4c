"""Content groups: links from fingerprints, overrides both ways, ids independent of order."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import numpy as np
import pytest

from kit.corpus.contents import Overrides, Source, group_sources, read_overrides, refuse_few_contents
from kit.corpus.rulings import entry_lines
from kit.errors import InputError
from kit.media.fingerprint import Fingerprint
from kit.media.signature import build_signature
from tests.conftest import THUMB8_BYTES, grid_thumbs


def _print(seed: int, noise: float = 0.0, frames: int = 30) -> Fingerprint:
    """A clip's fingerprint from made-up thumbnails: seed picks the scene, noise makes a lossy copy of it."""
    scene = np.random.default_rng(seed).uniform(0, 255, size=(frames, THUMB8_BYTES))
    jitter = np.random.default_rng(1000 + int(noise * 100)).normal(0, noise, size=scene.shape) if noise else 0
    thumbs = grid_thumbs(scene + jitter)
    return Fingerprint(hashlib.sha256(thumbs).hexdigest(), build_signature(thumbs), frames)


def _sha(n: int) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()


SOURCES = [Source("a", _sha(1), _print(1), "box1", "/r/a.y4m"),
           Source("a_lossy", _sha(2), _print(1, noise=2.0), "box1", "/r/a_lossy.mp4"),
           Source("b", _sha(3), _print(3), "box2", "/r/b.y4m"),
           Source("c", _sha(4), _print(4), "box2", "/r/c.y4m"),
           Source("c_old", _sha(5), None, "box3", "")]  # an older shard's source: no fingerprint


def _overrides(tmp_path: Path, rules: dict[str, object]) -> Overrides | None:
    path = tmp_path / "groups.json"
    path.write_text(json.dumps(rules))
    return read_overrides(path)


def test_a_lossy_copy_joins_its_source_and_the_group_id_is_its_lowest_sha() -> None:
    g = group_sources(SOURCES)
    (group,) = g.groups
    assert sorted(m.src for m in group.members) == ["a", "a_lossy"]
    assert group.content == min(_sha(1), _sha(2)) and g.content_of == {_sha(1): group.content,
                                                                        _sha(2): group.content}
    assert g.contents(len(SOURCES)) == 4 and "near-duplicate" in group.why[0]


def test_the_grouping_does_not_depend_on_the_order_the_sources_come_in() -> None:
    first = group_sources(SOURCES)
    for seed in range(5):
        shuffled = SOURCES[:]
        random.Random(seed).shuffle(shuffled)
        assert group_sources(shuffled) == first


def test_one_source_on_two_boxes_is_one_source() -> None:
    again = Source("a", _sha(1), None, "box9", "/other/a.y4m")
    assert group_sources([*SOURCES, again]).groups == group_sources(SOURCES).groups


def test_overrides_join_and_split(tmp_path: Path) -> None:
    same = _overrides(tmp_path, {"same": [["b", "c_old"]]})
    groups = {tuple(sorted(m.src for m in g.members)) for g in group_sources(SOURCES, same).groups}
    assert groups == {("a", "a_lossy"), ("b", "c_old")}
    apart = _overrides(tmp_path, {"different": [["a", "a_lossy.mp4"]]})
    assert group_sources(SOURCES, apart).groups == ()


@pytest.mark.parametrize(("rules", "needle"), [
    ({"same": [["a", "zzz"]]}, "'zzz' names no source"),
    ({"same": [["b"]]}, "is not a list of two or more source names"),
    ({"same": "b"}, "not a --content-groups file"),
    ({"same": [["a", "b"]], "diffrent": [["a", "c"]]}, "unknown key 'diffrent'"),
])
def test_bad_overrides_name_the_file_and_the_entry(tmp_path: Path, rules: dict[str, object], needle: str) -> None:
    with pytest.raises(InputError, match=r"groups\.json") as err:
        group_sources(SOURCES, _overrides(tmp_path, rules))
    assert needle in str(err.value)


def test_a_name_two_boxes_use_for_different_clips_must_be_told_apart(tmp_path: Path) -> None:
    twice = [*SOURCES, Source("b", _sha(6), _print(6), "box3", "/r3/b.y4m")]
    with pytest.raises(InputError, match="'b' names 2 sources") as err:
        group_sources(twice, _overrides(tmp_path, {"same": [["b", "c"]]}))
    assert f"b~{min(_sha(3), _sha(6))[:6]}" in err.value.hint or "b~" in err.value.hint
    ok = group_sources(twice, _overrides(tmp_path, {"same": [[f"b~{_sha(6)[:8]}", "c"]]}))
    assert {tuple(sorted(m.src_sha256 for m in g.members)) for g in ok.groups} >= {tuple(sorted((_sha(6), _sha(4))))}


def test_different_sources_still_linked_by_a_third_are_refused(tmp_path: Path) -> None:
    chain = [*SOURCES, Source("a_again", _sha(7), _print(1, noise=1.0), "box1", "/r/a_again.mp4")]
    with pytest.raises(InputError, match="other links join them"):
        group_sources(chain, _overrides(tmp_path, {"different": [["a", "a_lossy"]]}))


def test_a_source_in_two_content_groups_is_refused_and_singleton_groups_keep_the_corpus_identity(
        tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from kit.corpus.schema import corpus_sha256, with_content
    from kit.corpus.training import training_corpus
    from tests.kitfiles import shard_table

    table = shard_table()
    pq.write_table(table, tmp_path / "v3.parquet")
    pq.write_table(table.drop_columns(["content"]), tmp_path / "v2.parquet")
    assert corpus_sha256(tmp_path / "v3.parquet") == corpus_sha256(tmp_path / "v2.parquet")
    shas = sorted(set(table["src_sha256"].to_pylist()))
    grouped = with_content(table, {shas[1]: shas[0]})
    pq.write_table(grouped, tmp_path / "g.parquet")
    assert corpus_sha256(tmp_path / "g.parquet") != corpus_sha256(tmp_path / "v3.parquet")
    content = grouped["content"].to_pylist()
    first = table["src_sha256"].to_pylist().index(shas[2])
    content[first] = shas[0]  # one row of the third source names another group
    pq.write_table(grouped.set_column(grouped.column_names.index("content"), "content", pa.array(content)),
                   tmp_path / "split.parquet")
    with pytest.raises(InputError, match="has rows in 2 content groups"):
        training_corpus(tmp_path / "split.parquet")


def test_an_override_may_name_a_skipped_twin_for_its_kept_clip(tmp_path: Path) -> None:
    kept = Source("a", _sha(1), _print(1), "box1", "/r/a.y4m", aliases=("a_master", "a_master.mkv"))
    rules = _overrides(tmp_path, {"different": [["a_master.mkv", "a_lossy"]]})
    assert group_sources([kept, *SOURCES[1:]], rules).groups == ()


@pytest.mark.parametrize(("text", "needle"), [
    # one pair, both ways: "different" won silently before
    ('{"same": [["a", "b"]],\n "different": [["b", "a"]]}',
     "'b' and 'a' are one content by \"same\" entry 1 (line 1) and different contents by \"different\" entry 1 "
     "(line 2)"),
    # through a chain: a = b, b = c, yet a != c (names of all kinds: a file name, a sha prefix)
    ('{\n  "same": [\n    ["a", "b.y4m"],\n    ["c", "b"]\n  ],\n  "different": [\n    ["c", "' + _sha(1)[:8] + '"]\n'
     '  ]\n}',
     f"'c' and '{_sha(1)[:8]}' are one content by \"same\" entry 1 (line 3), \"same\" entry 2 (line 4) and different "
     "contents by \"different\" entry 1 (line 7)"),
    # a group of three in one entry, two of them said to differ
    ('{"same": [["a", "b", "c"]], "different": [["c", "c_old"], ["a", "c"]]}',
     "'a' and 'c' are one content by \"same\" entry 1 (line 1) and different contents by \"different\" entry 2"),
    ('{"different": [["a", "a.y4m"]]}', "\"different\" entry 1 (line 1) names one source twice: 'a' and 'a.y4m'"),
])
def test_a_file_that_says_one_pair_is_the_same_and_different_is_refused(tmp_path: Path, text: str,
                                                                       needle: str) -> None:
    """Exit 2 naming the file, the entries and their lines, and the pair (was accepted, "different" winning)."""
    path = tmp_path / "groups.json"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        group_sources(SOURCES, read_overrides(path))
    assert str(err.value).startswith(f"{path}: ") and needle in str(err.value), str(err.value)
    assert err.value.exit_code == 2 and ("remove" in err.value.hint or "drop" in err.value.hint)


def test_entry_lines_point_at_each_entry_and_a_key_given_twice_is_refused(tmp_path: Path) -> None:
    """A key given twice was read as JSON reads it, the last one winning: the first "same" entry was dropped without
    a word (and a run PROMOTEd on the groups the user had not meant). Now it is exit 2, naming the file and key."""
    text = '{"same": [["a", "b"],\n  ["c\\"]", "d"]],\n"different":\n[\n["x", "y"]]}'
    assert entry_lines(text) == {"same": [1, 2], "different": [5]}
    path = tmp_path / "twice.json"
    path.write_text('{"same": [["a", "b"]],\n"same": [["a", "c"]]}')
    with pytest.raises(InputError) as err:
        read_overrides(path)
    assert str(err.value) == (f"{path}: not a --content-groups file (the name 'same' is given twice in one object)")


def test_every_grouping_is_said_with_the_entry_that_reverses_it(tmp_path: Path) -> None:
    g = group_sources(SOURCES, _overrides(tmp_path, {"same": [["b", "c_old"]]}))
    (ruling,) = g.rulings
    assert (ruling.a, ruling.b, ruling.joined) == ("a", "a_lossy", True)
    # the --content-groups file by its name: the line is said in the log the results tarball sends
    assert g.said == [f"a and a_lossy are held out together as one content ({ruling.detail}); if they are different "
                      'contents, pass --content-groups FILE with FILE holding {"different": [["a", "a_lossy"]]}',
                      "b, c_old are held out together as one content, as --content-groups says"]
    assert "thumbnail distance" in ruling.detail


def test_too_few_contents_names_the_pair_and_the_override() -> None:
    """Was "2 distinct content(s) found in 3 sources", naming neither the pair nor --content-groups."""
    g = group_sources(SOURCES[:3])
    with pytest.raises(InputError) as err:
        refuse_few_contents(g, 3, 3)
    assert str(err.value).startswith("2 distinct content(s) found in 3 sources; LOSO needs at least 3; held out as "
                                     "one content: a and a_lossy (near-duplicate: thumbnail distance 0.0")
    assert err.value.hint.startswith('if they are different contents, pass --content-groups FILE with FILE holding '
                                     '{"different": [["a", "a_lossy"]]}; else add reference clips')
    refuse_few_contents(g, 4, 3)  # enough: nothing said


def test_components_are_scipy_s_connected_components_numbered_alike() -> None:
    """rulings.components, a union-find since `status` plans the corpus step without numpy or scipy (issue 77), gives
    every node the label scipy's connected_components gives it, over generated graphs: none, a chain, a star, random
    ones from sparse to dense, pairs given twice, a node joined to itself."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    from kit.corpus.rulings import components

    rng = random.Random(77)
    graphs: list[tuple[int, list[tuple[int, int]]]] = [
        (1, []), (5, []), (6, [(i, i + 1) for i in range(5)]), (7, [(0, k) for k in range(1, 7)]),
        (4, [(3, 3), (2, 0), (0, 2)])]
    for _ in range(300):
        n = rng.randint(1, 40)
        graphs.append((n, [(rng.randrange(n), rng.randrange(n)) for _ in range(rng.randint(0, 2 * n))]))
    for n, pairs in graphs:
        ends = np.array(pairs, dtype=np.int64).reshape(-1, 2).T
        graph = coo_matrix((np.ones(len(pairs)), (ends[0], ends[1])), shape=(n, n)).tocsr()
        assert components(n, pairs) == connected_components(graph, directed=False)[1].tolist(), (n, pairs)


def test_the_content_column_is_compared_by_parts_as_whole(tmp_path: Path) -> None:
    """kit.corpus.schema._all_equal, a slice of rows at a time, against arrow's comparison of the columns whole: a
    group that differs in the last slice only, a null, dictionaries of their own."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from kit.corpus.schema import _all_equal

    rng = random.Random(3)
    for _ in range(200):
        n = rng.randint(0, 40)
        own = [rng.choice("abc") for _ in range(n)]
        content = list(own)
        if n and rng.random() < 0.5:
            content[rng.randrange(n)] = rng.choice(["a", "z", None])
        if rng.random() < 0.1:
            content = [None] * n  # no row compared: the column hashed
        a = pa.chunked_array([pa.array(content[:n // 2], pa.string()), pa.array(content[n // 2:], pa.string())])
        b = pc.dictionary_encode(pa.chunked_array([pa.array(own, pa.string())]))
        assert _all_equal(a, b, rows=rng.randint(1, 7)) == bool(pc.all(pc.equal(a, b)).as_py())  # as 2.5 hashed it
