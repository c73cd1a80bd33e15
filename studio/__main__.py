"""`python -m studio`: the window with no arguments, otherwise the command line."""

from __future__ import annotations

import sys


def run_window() -> int:
    """Open the studio window; without a display it says why in one line and returns 2 (studio.ui.main)."""
    from studio.ui.main import run

    return run()


if __name__ == "__main__":
    from studio.cli import main

    sys.exit(main())
