"""The repository root, first on the import path.

Benchmarks measure this checkout's package and training program, not an
installed copy: run as `python benchmarks/x.py`, a program has `benchmarks/`
first on its path, and imports this module before the package. It imports
nothing heavy, so drivers that keep TensorFlow out of their own process
(`study.py`, `data_bench.py`) use it too.
"""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
  sys.path.insert(0, ROOT)
