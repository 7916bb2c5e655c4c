"""ensemble-kit: encode reference clips, score them with libvmaf, train an MLP ensemble with leave-one-source-out
validation, gate it and export ONNX."""

import os
from pathlib import Path

__version__ = "2.7.5"

PACKAGE_DIR = Path(__file__).resolve().parent  # kit/
KIT_ROOT = PACKAGE_DIR.parent  # the untarred kit or the clone: holds binaries/ and pyproject.toml

# set before torch loads them, a value the user set kept: Intel MKL (torch's CPU BLAS) reproducible run to run (the
# same verdict and ONNX on one box), and OpenMP's idle threads asleep, not spinning on a busy box (kit/model/threads.py)
os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # GNU and LLVM OpenMP
os.environ.setdefault("KMP_BLOCKTIME", "0")  # Intel and LLVM OpenMP: sleep at once after a parallel region
