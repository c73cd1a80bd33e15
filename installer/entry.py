"""The frozen executable's entry point: exactly `studio`'s command line."""

import sys

from studio.cli import main

if __name__ == "__main__":
    sys.exit(main())
