"""`python -m studio`: the window with no arguments, otherwise the command line."""

from __future__ import annotations

import sys


def run_window() -> int:
    """Open the studio window (built by studio.ui once that layer exists)."""
    from studio.ui.main import run

    return run()


if __name__ == "__main__":
    from studio.cli import main

    sys.exit(main())
