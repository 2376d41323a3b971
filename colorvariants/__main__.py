"""``python -m colorvariants`` is the same as the ``colorvariants`` command."""

import sys

from colorvariants.cli.main import main

sys.exit(main())
