"""`studio`, `diffusion-studio` and `python -m studio`: the window with no arguments, otherwise the command
line. Only this module knows both, so neither the CLI nor the window imports the other (DESIGN §2)."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        return run_window()
    from studio.cli import main as cli_main  # torch and Qt are imported only by what runs

    return cli_main(argv)


def run_window() -> int:
    """Open the studio window; without a display it says why in one line and returns 2 (studio.ui.main)."""
    try:
        from studio.ui.main import run
    except ImportError as exc:  # PySide6 or qasync missing: the command line still works
        print(f"studio: error: the window cannot start ({exc})", file=sys.stderr)
        return 1
    return run()


if __name__ == "__main__":
    sys.exit(main())
