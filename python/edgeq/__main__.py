"""`python -m edgeq ...` is the same as the `edgeq` command."""
import sys

from .cli import main

sys.exit(main())
