"""File → Import checkpoint…: the dialogs' answers reach the session's importer."""

from PySide6.QtWidgets import QFileDialog, QInputDialog


def test_the_file_menu_imports_with_the_chosen_family_and_preset(make_window, monkeypatch, tmp_path):
    window = make_window()
    assert window.actions["import_checkpoint"].text() == "Import checkpoint…"
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: ("/data/base.pt", ""))
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "glide.safetensors"), ""))
    answers = iter([("glide", True), ("glide-base", True)])
    monkeypatch.setattr(QInputDialog, "getItem", lambda *a, **k: next(answers))
    started = []
    monkeypatch.setattr(window.session.checkpoints, "start", lambda *args: started.append(args))
    window.actions["import_checkpoint"].trigger()
    assert started == [("glide", "/data/base.pt", str(tmp_path / "glide.safetensors"), "glide-base")]


def test_recognising_the_file_is_the_first_choice_and_cancel_stops(make_window, monkeypatch, tmp_path):
    window = make_window()
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: ("/data/x.pt", ""))
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "x.safetensors"), ""))
    offered = []

    def choose(parent, title, label, items, *rest):
        offered.append(items)
        return items[0], True

    monkeypatch.setattr(QInputDialog, "getItem", choose)
    started = []
    monkeypatch.setattr(window.session.checkpoints, "start", lambda *args: started.append(args))
    window.actions["import_checkpoint"].trigger()
    assert offered[1][0] == "recognise from the file" and started[0][3] == ""
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: ("", ""))  # the user cancels
    window.actions["import_checkpoint"].trigger()
    assert len(started) == 1
