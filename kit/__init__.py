"""ensemble-kit: encode reference clips, score them with libvmaf, train an MLP
ensemble with leave-one-source-out validation, gate it and export ONNX."""

import os
from pathlib import Path

__version__ = "2.1.0"

PACKAGE_DIR = Path(__file__).resolve().parent  # kit/
KIT_ROOT = PACKAGE_DIR.parent  # the untarred kit or the clone: holds binaries/ and pyproject.toml

# Intel MKL (torch's CPU BLAS) does not promise identical results from run to run
# unless its conditional numerical reproducibility mode is on: without it, kernel
# choices may follow memory alignment. Two runs on one box must give the same
# verdict and byte-identical ONNX, so it is on (about 1 % slower LOSO, measured).
# It must be set before torch loads MKL; a value the user set is kept.
os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")

# OpenMP threads that wait for work spin by default: on a busy box a waiting thread
# burns the core its descheduled peer needs (issue 14: 7-13x the CPU, minutes instead of
# seconds). Waiting threads sleep instead (kit/model/threads.py chooses how many there
# are). Read when torch loads its OpenMP runtime; a value the user set is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # GNU and LLVM OpenMP
os.environ.setdefault("KMP_BLOCKTIME", "0")  # Intel and LLVM OpenMP: sleep at once after a parallel region
