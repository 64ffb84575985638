"""pytest at the top level: the notebook (main.ipynb, run by nbmake) runs in its smoke profile."""

import os

os.environ.setdefault("COLORIZER_FAST", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
