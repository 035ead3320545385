"""`python -m scone_ops` is the `scone-ops` command."""

import sys

from scone_ops.cli import main

sys.exit(main())
