"""`python -m scone_backupper` runs the CLI."""

import sys

from .cli import main

sys.exit(main())
