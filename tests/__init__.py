"""The tests (noxfile.py says which tier runs which).

Imported before tests/conftest.py and everything it imports: each module is compiled once, by the first process of
the suite that imports it, and read from its __pycache__ after. The README's test command installs without
compiling (`pip install --no-compile`), and on a box that sets PYTHONDONTWRITEBYTECODE (this project's CI and dev
boxes do) each worker and each of the suite's few hundred kit processes compiled every module it imported again
(torch, pandas, scipy and the kit: about 12 s of CPU each). The flag is for this process; the environment, for the
kit processes the tests start.
"""

import os
import sys

sys.dont_write_bytecode = False
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
