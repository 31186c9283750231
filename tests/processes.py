"""Running finsent as a user does: the console script of the interpreter running pytest."""

from __future__ import annotations

import sys
from pathlib import Path

FINSENT = str(Path(sys.executable).with_name("finsent"))
