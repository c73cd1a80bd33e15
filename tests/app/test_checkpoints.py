"""File → Import checkpoint…'s view model: the import runs off the UI thread, progress and the result (or
one error line) come back by signal on the main thread, and the session opens what was imported."""

import json
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from studio.app.background import Background
from studio.app.checkpoints import CheckpointImporter
from studio.core.enums import Architecture
from studio.models.files import read_model_info
from studio.models.openai.presets import Preset

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "openai"
sys.path.insert(0, str(FIXTURES))
from weights import weights  # noqa: E402


@pytest.fixture()
def importer(qtbot):
    background = Background()
    yield CheckpointImporter(background)
    background.shutdown(wait=True)


def _checkpoint(tmp_path):
    data = np.load(FIXTURES / "adm_classifier_attention.npz")
    shapes = dict(zip(data["names"].tolist(), map(tuple, json.loads(str(data["shapes"]))), strict=True))
    torch.save({k: torch.from_numpy(v) for k, v in weights(shapes).items()}, tmp_path / "c.pt")
    return tmp_path / "c.pt"


def test_an_import_reports_progress_on_the_main_thread_and_delivers_the_file(qtbot, importer, tmp_path, monkeypatch):
    source = _checkpoint(tmp_path)
    flags = json.loads(str(np.load(FIXTURES / "adm_classifier_attention.npz")["flags"]))
    # the tiny file is no public file: a preset of its own stands for the one the window would offer
    monkeypatch.setattr("studio.engine.openai_import.PRESETS", {"tiny": Preset("tiny", Architecture.ADM, "c.pt",
                                                                               flags, "tiny")})
    lines, threads, done, errors = [], [], [], []
    importer.progress.connect(lambda line: (lines.append(line), threads.append(threading.current_thread())))
    importer.imported.connect(done.append)
    importer.error.connect(errors.append)
    importer.start("adm", str(source), str(tmp_path / "c.safetensors"), "tiny")
    assert importer.importing == str(source)  # returned at once, still importing
    qtbot.waitUntil(lambda: bool(done or errors), timeout=120_000)
    assert errors == [] and done == [str(tmp_path / "c.safetensors")] and importer.importing == ""
    assert read_model_info(tmp_path / "c.safetensors").card.name == "tiny"
    assert lines[0] == "importing c.pt: reading the checkpoint (0%)" and lines[-1] == "importing c.pt: done (100%)"
    assert set(threads) == {threading.main_thread()}


def test_a_file_that_fits_no_preset_comes_back_as_one_error_line(qtbot, importer, tmp_path):
    source = _checkpoint(tmp_path)
    with qtbot.waitSignal(importer.error, timeout=120_000) as failed:
        importer.start("adm", str(source), str(tmp_path / "c.safetensors"))
    (message,) = failed.args
    assert "match no adm preset" in message and "\n" not in message and importer.importing == ""
    assert not (tmp_path / "c.safetensors").exists()


def test_the_window_offers_every_family_and_its_presets(importer):
    assert importer.families == ("glide", "adm", "iddpm")
    assert importer.presets("glide") == ["glide-base", "glide-upsample", "glide-base-inpaint", "glide-upsample-inpaint"]


def test_the_session_opens_what_was_imported(make_session, path_of, qtbot):
    session = make_session()
    with qtbot.waitSignal(session.model_changed, timeout=10_000) as opened:
        session.checkpoints.imported.emit(path_of("first"))
    assert opened.args[0].name == "first"
