import sys

from netprof.cli.bench import main

sys.exit(main())
