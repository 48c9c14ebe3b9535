"""``python -m netprof``: the ``netprof`` command."""

import sys

from netprof.cli import main

sys.exit(main())
