"""A session on the fake engine (tests/app/fakes.py): no window, no model file, no torch work."""

import pytest
from PySide6.QtCore import QSettings

from studio.app.session import Session
from tests.app.fakes import FakeCanvas, FakeModels, FakeRunner, curve_of, model_file, summary


@pytest.fixture()
def fake_runner():
    return FakeRunner()


@pytest.fixture()
def models(tmp_path):
    """Two readable fake models, "first" and "second", at paths that exist."""
    first, second = model_file(tmp_path, "first.safetensors"), model_file(tmp_path, "second.safetensors")
    return FakeModels({first: summary("first", path=first), second: summary("second", path=second, has_sr=False)})


@pytest.fixture()
def make_session(qtbot, tmp_path, fake_runner, models):
    sessions = []

    def make(canvas=None, runner=None, folder=None):
        folder = folder or tmp_path / "data"
        settings = QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat)
        session = Session(canvas or FakeCanvas(), runner=runner or fake_runner, folder=folder, settings=settings,
                          read_model=models, curve_of=curve_of)
        sessions.append(session)
        return session

    yield make
    for session in sessions:
        session.shutdown()


@pytest.fixture()
def opened(make_session, models, qtbot):
    """A session with the model "first" open."""
    session = make_session()
    with qtbot.waitSignal(session.model_changed, timeout=10_000):
        session.open_model(_path_of(models, "first"))
    qtbot.waitUntil(lambda: not session.background.busy, timeout=10_000)
    return session


def _path_of(models: FakeModels, name: str) -> str:
    return next(path for path, s in models.known.items() if s.name == name)


@pytest.fixture()
def path_of(models):
    return lambda name: _path_of(models, name)
