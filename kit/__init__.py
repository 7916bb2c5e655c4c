"""ensemble-kit: encode reference clips, score them with libvmaf, train an MLP ensemble with leave-one-source-out
validation, gate it and export ONNX."""

import os
from pathlib import Path

__version__ = "2.1.0"

PACKAGE_DIR = Path(__file__).resolve().parent  # kit/
KIT_ROOT = PACKAGE_DIR.parent  # the untarred kit or the clone: holds binaries/ and pyproject.toml

# Intel MKL (torch's CPU BLAS) gives identical results from run to run only in its conditional numerical
# reproducibility mode: two runs on one box give the same verdict and ONNX. Set before torch loads MKL; a value the user
# set is kept.
os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")

# OpenMP threads that wait for work spin by default, burning the core a descheduled peer needs on a busy box (7-13x
# the CPU): they sleep instead (kit/model/threads.py). Read when torch loads OpenMP; a value the user set is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # GNU and LLVM OpenMP
os.environ.setdefault("KMP_BLOCKTIME", "0")  # Intel and LLVM OpenMP: sleep at once after a parallel region
