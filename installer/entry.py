"""The frozen executable's entry point, the same as `studio`: the window with no arguments, else the CLI."""

import sys

from studio.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
