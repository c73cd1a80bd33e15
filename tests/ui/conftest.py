"""Window fixtures: a session whose settings and data folder live in a temporary directory, returned once
start-up's background work (reading the model, its schedule curve) is done, as a user would wait for it."""

import pytest
from PySide6.QtCore import QSettings

from studio.app.session import Session
from studio.ui.main_window import build_window


@pytest.fixture()
def make_window(qtbot, tmp_path, tiny_cascade):
    windows = []

    def make(folder=None, model=tiny_cascade):
        folder = folder or tmp_path / "data"
        settings = QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat)
        if model is not None and not settings.contains("model/path"):
            settings.setValue("model/path", str(model))

        def factory(document):
            return Session(document, folder=folder, settings=settings)

        window = build_window(factory)
        qtbot.addWidget(window)
        windows.append(window)
        qtbot.waitUntil(lambda: not window.session.background.busy, timeout=30_000)
        return window

    yield make
    for window in windows:
        window.session.shutdown()
