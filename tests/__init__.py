"""The tests (noxfile.py says which tier runs which).

Imported before tests/conftest.py and everything it imports: each module is compiled once, by the first process of
the suite that imports it, and read from its __pycache__ after. The README's test command installs without
compiling (`pip install --no-compile`), and on a box that sets PYTHONDONTWRITEBYTECODE (this project's CI and dev
boxes do) each worker and each of the suite's few hundred kit processes compiled every module it imported again
(torch, pandas, scipy and the kit: about 12 s of CPU each). The flag is for this process; the environment, for the
kit processes the tests start. In a fresh clone the heavy packages are compiled once before the workers start
(compile_before_the_workers).
"""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

sys.dont_write_bytecode = False
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

# what every worker imports that takes longest to compile, in two halves of about the same time (8-10 s each here)
HEAVY_IMPORTS = (("torch", "onnx"),
                 ("scipy.stats", "matplotlib.figure", "onnxruntime", "pyarrow.parquet", "rich.console"))


def compile_before_the_workers(timeout: float = 300) -> None:
    """In a fresh clone nothing is compiled yet: the workers, starting together, would each compile torch,
    scipy and matplotlib, the same files at the same time. Two processes compile them first, a half each, side by
    side (pytest_configure calls this in the controller of `-n 3`). Nothing happens when torch's bytecode is there
    already or cannot be written; a process not done within `timeout` is stopped, and the workers compile the rest."""
    spec = importlib.util.find_spec("torch")
    if spec is None or spec.origin is None or not os.access(Path(spec.origin).parent, os.W_OK):
        return
    if Path(importlib.util.cache_from_source(spec.origin)).exists():
        return
    from tests import pace  # the box's own time (tests/pace.py)

    procs = [subprocess.Popen([sys.executable, "-c", "import " + ", ".join(half)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL) for half in HEAVY_IMPORTS]
    limit = pace.Deadline(timeout)
    try:
        for proc in procs:
            pace.wait(proc, max(limit.left(), 0.1))
    except subprocess.TimeoutExpired:
        pass  # the workers compile what is left
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
