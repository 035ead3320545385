"""scone-ops: the day-2 operations of a scone-stack CAS as commands, safe by default.

The package is installed editable from the repository and shares the program's own modules
(``components``: the stack loader, the status shape, redaction), so the repository root goes on
``sys.path`` once, here, before any of them is imported.
"""

import sys
from pathlib import Path

__version__ = "0.1.0"

_PROJECT_ROOT = str(Path(__file__).resolve().parents[2])
if _PROJECT_ROOT not in sys.path:
    sys.path.insert(0, _PROJECT_ROOT)
