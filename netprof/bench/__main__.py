import sys

from netprof.bench.cli import main

sys.exit(main())
