"""`python -m pytest benchmarks/`: the benchmark modules import each other and tests/_attacks.py."""

import sys
from pathlib import Path

for folder in (Path(__file__).parent, Path(__file__).parent.parent / "tests"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
