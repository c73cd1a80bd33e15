"""Start the window: a QApplication and the qasync event loop."""

from __future__ import annotations

import sys


def run() -> int:
    import asyncio

    import qasync
    from PySide6.QtWidgets import QApplication

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
