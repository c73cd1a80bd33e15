"""What a new user meets first: a one-line reason when no window can open, the Help menu's shortcut list,
brush sliders that show their values, the model card on demand, a model label that does not break, and
dialogs that go away when closed."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import shiboken6
from PySide6.QtCore import QObject
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QFileDialog, QMessageBox

from studio.ui.actions import COMMANDS, Menu, ShortcutsDialog, shortcut_rows
from studio.ui.display import NO_DISPLAY, display_problem


# --- no display, no xcb libraries -------------------------------------------------------------------
def _plugins(tmp_path: Path) -> Path:
    (tmp_path / "platforms").mkdir(parents=True, exist_ok=True)
    (tmp_path / "platforms" / "libqxcb.so").write_bytes(b"")
    return tmp_path


def _loads(_path: str) -> object:
    return object()


def _lacks(library: str):
    def load(path: str) -> object:
        raise OSError(f"{library}: cannot open shared object file: No such file or directory")

    return load


def test_no_display_at_all_is_one_line_naming_the_variables(tmp_path):
    assert display_problem({}, _plugins(tmp_path), load=_loads, system="linux") == NO_DISPLAY
    assert "DISPLAY" in NO_DISPLAY and "WAYLAND_DISPLAY" in NO_DISPLAY and "offscreen" in NO_DISPLAY


def test_asking_for_xcb_without_an_x_display_says_so(tmp_path):
    problem = display_problem({"QT_QPA_PLATFORM": "xcb", "WAYLAND_DISPLAY": "wayland-0"}, _plugins(tmp_path),
                              load=_loads, system="linux")
    assert problem == "no X display: set DISPLAY (or QT_QPA_PLATFORM=offscreen)"


@pytest.mark.parametrize("platform", ["offscreen", "minimal", "vnc:size=800x600", "eglfs"])
def test_platforms_that_need_no_window_system_are_left_to_qt(tmp_path, platform):
    assert display_problem({"QT_QPA_PLATFORM": platform}, _plugins(tmp_path), load=_lacks("libxcb.so.1"),
                           system="linux") is None


def test_a_missing_xcb_library_names_its_debian_package(tmp_path):
    problem = display_problem({"DISPLAY": ":0"}, _plugins(tmp_path), load=_lacks("libxcb-cursor.so.0"),
                              system="linux")
    assert problem.startswith("Qt's xcb platform plugin needs libxcb-cursor.so.0 (apt-get install libxcb-cursor0")
    assert "\n" not in problem


def test_a_missing_library_we_do_not_know_is_still_named(tmp_path):
    problem = display_problem({"DISPLAY": ":0"}, _plugins(tmp_path), load=_lacks("libwhatever.so.3"),
                              system="linux")
    assert "needs libwhatever.so.3" in problem and "install the package that provides it" in problem


def test_with_a_display_and_a_loadable_plugin_there_is_nothing_to_say(tmp_path):
    plugins = _plugins(tmp_path)
    assert display_problem({"DISPLAY": ":0"}, plugins, load=_loads, system="linux") is None
    assert display_problem({"WAYLAND_DISPLAY": "wayland-0"}, plugins, load=_lacks("libxcb.so.1"),
                           system="linux") is None  # Wayland does not load the xcb plugin
    assert display_problem({}, plugins, load=_loads, system="win32") is None  # Windows and macOS always have one


@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler to build a plugin with a missing library")
def test_the_real_dynamic_loader_reports_the_library_the_plugin_lacks(tmp_path):
    """A stand-in libqxcb.so that needs a library nobody has: the message comes from the system's loader."""
    missing = "libstudio-test-absent.so.1"
    source, lib = tmp_path / "f.c", tmp_path / "lib"
    source.write_text("int f(void) { return 0; }\n")
    lib.mkdir()
    cc = ["cc", "-shared", "-fPIC", str(source)]
    subprocess.run([*cc, "-o", str(lib / missing), f"-Wl,-soname,{missing}"], check=True)
    plugins = _plugins(tmp_path / "plugins")
    subprocess.run([*cc, "-o", str(plugins / "platforms" / "libqxcb.so"), "-Wl,--no-as-needed", f"-L{lib}",
                    f"-l:{missing}"], check=True)
    (lib / missing).unlink()
    problem = display_problem({"DISPLAY": ":0"}, plugins, system="linux")
    assert problem == (f"Qt's xcb platform plugin needs {missing} (install the package that provides it; "
                       "the README lists all it needs)")


def test_diffusion_studio_without_a_display_prints_one_line_and_exits_2():
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    done = subprocess.run([sys.executable, "-c", "import sys; from studio.__main__ import main; sys.exit(main([]))"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr == f"studio: error: {NO_DISPLAY}\n" and done.stdout == ""


# --- the Help menu ----------------------------------------------------------------------------------
def test_every_key_in_the_help_dialog_is_a_registered_shortcut_and_every_shortcut_is_listed(make_window):
    window = make_window()
    for command in COMMANDS:
        registered = [k.toString() for k in window.actions[command.name].shortcuts()]
        assert registered == [QKeySequence(k).toString() for k in command.keys], command.name
    listed = shortcut_rows()
    with_keys = [a for a in window.actions.values() if a.shortcuts()]
    assert len(listed) == len(with_keys) >= 15
    help_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == Menu.HELP.value)
    entry = next(a for a in help_menu.actions() if a.text() == "Keyboard shortcuts…")
    entry.trigger()
    dialog = window.findChild(ShortcutsDialog)
    rows = [(dialog.table.item(r, 0).text(), dialog.table.item(r, 1).text()) for r in range(dialog.table.rowCount())]
    assert rows == listed
    assert ("Ctrl+Return, Ctrl+Enter", "Generate") in rows and ("M", "Mask") in rows and ("]", "Larger brush") in rows


# --- brush sliders, model card, model label ---------------------------------------------------------
def test_brush_sliders_show_their_values_and_follow_the_bracket_keys(make_window, qtbot):
    window = make_window()
    values, sliders = window.tool_bar.values, window.tool_bar.sliders
    assert (values["brush_size"].text(), values["hardness"].text(), values["opacity"].text()) == (
        "24 px", "70%", "100%")
    sliders["hardness"].setValue(35)
    assert values["hardness"].text() == "35%" and window.doc.hardness == pytest.approx(0.35)
    window.actions["brush_larger"].trigger()  # "]"
    assert values["brush_size"].text() == "31 px" and window.doc.brush_size == 31


def test_opening_a_model_shows_no_card_until_asked(make_window, qtbot, monkeypatch, tiny_cascade):
    window = make_window(model=None)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(tiny_cascade / "cascade.json"), ""))
    with qtbot.waitSignal(window.session.model_changed, timeout=10_000):
        window.actions["open_model"].trigger()  # File → Open model file…
    assert window.session.model is not None and not window.findChildren(QMessageBox)
    window.panel.card.click()
    cards = window.findChildren(QMessageBox)
    assert len(cards) == 1 and cards[0].text() == window.session.model.name
    cards[0].close()
    qtbot.waitUntil(lambda: not window.findChildren(QMessageBox), timeout=3000)  # closed means deleted


def test_the_model_label_is_one_line_and_shortens_with_an_ellipsis_rather_than_breaking(make_window):
    window = make_window()
    window.show()  # a hidden widget gets its resize events only once shown
    label = window.panel.model_name
    assert label.full_text == "tiny  (16→32 px)" and not label.wordWrap()
    label.resize(400, label.height())
    assert label.text() == "tiny  (16→32 px)"
    label.resize(label.fontMetrics().horizontalAdvance("tiny  (16"), label.height())
    assert label.text().endswith("…") and "\n" not in label.text() and label.text() != label.full_text


# --- dialogs do not leak --------------------------------------------------------------------------
def _receivers(obj: QObject, signal: str) -> int:
    return obj.receivers(f"2{signal}")  # "2" marks a signal signature, as Qt's SIGNAL() macro writes it


def test_export_dialogs_are_deleted_when_closed_and_let_go_of_the_exporter(make_window, qtbot):
    window = make_window()
    exporter = window.exporter
    signals = ("finished(QString)", "failed(QString)", "progress_changed(double)")
    before = [_receivers(exporter, s) for s in signals]
    for close in ("reject", "close", "reject"):
        dialog = window.export_gallery()
        assert [_receivers(exporter, s) for s in signals] == [n + 1 for n in before]
        getattr(dialog, close)()
        qtbot.waitUntil(lambda d=dialog: not shiboken6.isValid(d), timeout=3000)
        assert [_receivers(exporter, s) for s in signals] == before
    exporter.finished.emit("exported 0 files")  # nothing left behind to call into a deleted dialog
    assert window.statusBar().currentMessage() == "exported 0 files"


def test_the_shortcuts_dialog_is_deleted_when_closed(make_window, qtbot):
    window = make_window()
    dialog = window.show_shortcuts()
    dialog.close()
    qtbot.waitUntil(lambda: not shiboken6.isValid(dialog), timeout=3000)
    assert not window.findChildren(ShortcutsDialog)
