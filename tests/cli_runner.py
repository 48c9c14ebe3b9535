"""Run the real ``netprof`` CLI in-process, as every CLI test does."""

from netprof.cli import main


def run(capsys, *argv):
    """Exit code, stdout and stderr of ``netprof *argv``; argparse's own errors exit early."""
    try:
        code = main(list(argv))
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err
