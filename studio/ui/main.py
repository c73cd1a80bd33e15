"""Start the window: a QApplication and the qasync event loop."""

from __future__ import annotations

import os
import sys
from pathlib import Path

EXIT_NO_DISPLAY = 2  # as the CLI's usage errors: the command could not start, nothing ran


def startup_problem() -> str | None:
    """Why Qt could not open a window here (no display, missing X libraries), checked before Qt aborts."""
    from PySide6.QtCore import QLibraryInfo

    from studio.ui.display import display_problem

    plugins = QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath)
    return display_problem(os.environ, Path(plugins) if plugins else None)


def run() -> int:
    import asyncio

    import qasync
    from PySide6.QtWidgets import QApplication

    if QApplication.instance() is None and (problem := startup_problem()):
        print(f"studio: error: {problem}", file=sys.stderr)
        return EXIT_NO_DISPLAY

    from studio.ui.main_window import build_window

    app = QApplication.instance() or QApplication(sys.argv)
    app.setOrganizationName("DiffusionStudio")
    app.setApplicationName("Diffusion Studio")
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    window = build_window()
    window.show()
    closed = asyncio.Event()
    app.aboutToQuit.connect(closed.set)
    with loop:
        loop.run_until_complete(closed.wait())
    return 0
