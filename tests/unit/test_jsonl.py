"""Bash-kit JSONL: Arrow's fast parser and the line-by-line reader agree, or the reader names the line."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from kit.corpus.inputs import load_jsonl
from kit.corpus.jsonl import jsonl_src_sha256, read_jsonl, read_jsonl_fast
from kit.corpus.rungs import RUNG_COLUMNS
from kit.corpus.schema import typed_columns, with_content
from kit.errors import InputError

BASE = {"src": "Tennis", "encoder": "libx264", "cq": 25, "enc_bytes": 100, "enc_time_ms": 1.5, "frame_index": 0,
        "vmaf": 50.0, "adm2": 0.9, "vif_scale0": 0.5, "vif_scale1": 0.6, "vif_scale2": 0.7, "vif_scale3": 0.8,
        "motion2": 1.0}


def _file(tmp_path: Path, patch: dict[str, object]) -> Path:
    path = tmp_path / "rows.jsonl"
    # a blank line in between: errors must still name the real line (3)
    path.write_text(json.dumps(BASE) + "\n\n" + json.dumps({**BASE, "frame_index": 1, **patch}) + "\n")
    return path


@pytest.mark.parametrize("patch", [{}, {"cq": 25.0}, {"vmaf": 50}, {"src_sha256": "ab" * 32}, {"extra": [1]},
                                   {"device": "gpu0", "box_id": "old-box", "preset": "slow"}])
def test_fast_and_careful_readers_agree(tmp_path: Path, patch: dict[str, object]) -> None:
    path = _file(tmp_path, patch)
    careful, _ = read_jsonl(path)
    fast = read_jsonl_fast(path)
    assert fast is None or fast.equals(careful)
    loaded = load_jsonl(path)
    # each bash-kit source its own content group; encoded at its own size (0: not recorded), no scaler; what the
    # system said of the box typed (kit.corpus.schema.TYPED_COLUMNS)
    wanted = typed_columns(with_content(careful))
    assert loaded.drop_columns(list(RUNG_COLUMNS)).equals(wanted.drop_columns(list(RUNG_COLUMNS)))
    assert loaded["enc_width"].to_pylist() == loaded["enc_height"].to_pylist() == [0, 0]
    assert loaded["scaler_down"].to_pylist() == loaded["scaler_up"].to_pylist() == ["", ""]


def test_a_videotoolbox_row_of_the_bash_kit_reads_with_the_q_v_it_received(tmp_path: Path) -> None:
    """Before schema 4 a VideoToolbox cq was CRF-shaped, mapped to -q:v clamp(100 - 2 cq, 1, 100); now cq is the
    -q:v the encoder received (kit.corpus.rungs), read from quality_args when the row recorded it."""
    path = tmp_path / "vt.jsonl"
    rows = [{**BASE, "encoder": "h264_videotoolbox", "cq": 30}, {**BASE, "encoder": "h264_videotoolbox", "cq": 60},
            {**BASE, "encoder": "hevc_videotoolbox", "cq": 20, "quality_args": "-q:v 55 -realtime 0"},
            {**BASE, "cq": 30, "width": 640, "height": 360}]
    path.write_text("".join(json.dumps({**r, "frame_index": i}) + "\n" for i, r in enumerate(rows)))
    loaded = load_jsonl(path)
    assert loaded["cq"].to_pylist() == [40, 1, 55, 30]
    assert loaded["enc_width"].to_pylist() == [0, 0, 0, 640] and loaded["enc_height"].to_pylist()[-1] == 360


@pytest.mark.parametrize(("patch", "needle"), [
    ({"cq": 25.5}, "line 3 column 'cq': 25.5 is not a whole number"),
    ({"vmaf": True}, "line 3 column 'vmaf': True is not a number"),
    ({"src": 5}, "line 3 column 'src': 5 is not a text"),
    ({"cq": 2**40}, "line 3 column 'cq': 1099511627776 is out of range"),
    ({"vmaf": None}, "line 3 column 'vmaf': missing"),
    ({"vmaf": 101.0}, "line 3 column 'vmaf': 101.0 is outside [0, 100]"),
    ({"src_sha256": "XYZ"}, "line 3 column 'src_sha256': 'XYZ' is not 64 lowercase hex digits"),
    ({"encoder": "x999"}, "line 3 column 'encoder': 'x999' is not an encoder the kit knows"),
])
def test_bad_values_name_the_line_and_column(tmp_path: Path, patch: dict[str, object], needle: str) -> None:
    with pytest.raises(InputError, match=r"rows\.jsonl: ") as err:
        load_jsonl(_file(tmp_path, patch))
    assert needle in err.value.message


def test_identity_rule() -> None:
    assert jsonl_src_sha256("Tennis") == hashlib.sha256(b"bash-kit-jsonl:Tennis").hexdigest()
    assert jsonl_src_sha256("Tennis") != hashlib.sha256(b"Tennis").hexdigest()
