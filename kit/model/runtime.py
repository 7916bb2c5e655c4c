"""The kit's one onnxruntime session and the model's tensor names; light (no torch), for the incumbent's child."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from kit.infra.tree import Tree
from kit.model.threads import ORT_THREADS

INPUT_FEATURES, INPUT_CODEC, OUTPUT = "features", "codec", "vmaf"


def npy_bytes(array: np.ndarray) -> bytes:
    """An array as a .npy file's bytes (no pickles): the members' files and what the incumbent's child exchanges."""
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def load_npy(tree: Tree, path: Path) -> np.ndarray:
    return np.asarray(np.load(io.BytesIO(tree.read_bytes(path)), allow_pickle=False))


def session(path: Path) -> Any:
    """An onnxruntime session on the CPU, quiet, on ORT_THREADS threads that sleep when idle (no spin-waiting). It is
    given the model's bytes, never its path: onnxruntime takes a path as UTF-8 text only, and refuses (TypeError) a
    folder whose name is not (the kit's single-file models need no folder to find external data in)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.intra_op_num_threads = opts.inter_op_num_threads = ORT_THREADS
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
    # the model's bytes, not its path: onnxruntime takes a path only as UTF-8 text, and an out-dir's name may hold a
    # byte that is not UTF-8 (the kit's ONNX files are single files, with no external data beside them)
    return ort.InferenceSession(path.read_bytes(), opts, providers=["CPUExecutionProvider"])


PREDICT_ROWS = 8_192  # rows a session is given at once (a teacher recipe's graph holds a kernel per row)


def predict(sess: Any, feats: np.ndarray, codec: np.ndarray) -> np.ndarray:
    """The model's output for each row, PREDICT_ROWS at a time."""
    parts = [np.asarray(sess.run([OUTPUT], {INPUT_FEATURES: feats[at : at + PREDICT_ROWS].astype(np.float32),
                                            INPUT_CODEC: codec[at : at + PREDICT_ROWS].astype(np.float32)})[0],
                        dtype=np.float64) for at in range(0, len(feats), PREDICT_ROWS)]
    return np.concatenate(parts) if parts else np.zeros(0)
