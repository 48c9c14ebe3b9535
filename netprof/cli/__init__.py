"""The ``netprof`` command line: a thin shell over ``netprof.pipeline`` and the reporters.

``main`` dispatches; each command lives in its own module; ``common`` holds the
shared flags and output writing.
"""

from netprof.cli.common import DEFAULT_SPEC, ExitStatus
from netprof.cli.main import main

__all__ = ["DEFAULT_SPEC", "ExitStatus", "main"]
