"""Every command of the window with its keys, in one table: menus, the tool bar, the shortcuts and
the Help → Keyboard shortcuts dialog are all built from it, so the list a user reads is the list that works.
The canvas tools' commands come from their own table (ui/tools.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QMenuBar,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.ui.tools import TOOLS, command_name


class Menu(str, Enum):
    FILE = "&File"
    EDIT = "&Edit"
    RUN = "&Run"
    TOOLS = "&Tools"
    HELP = "&Help"


@dataclass(frozen=True)
class Command:
    name: str  # the key in MainWindow.actions
    text: str  # menu text, and what the shortcuts dialog says the keys do
    keys: tuple[str, ...] = ()  # portable key sequences, e.g. "Ctrl+Return"
    menu: Menu | None = Menu.FILE  # None: a window-wide shortcut with no menu entry
    checkable: bool = False


COMMANDS: tuple[Command, ...] = (
    Command("open_image", "Open image…", ("Ctrl+O",)),
    Command("open_model", "Open model file…"),
    Command("import_checkpoint", "Import checkpoint…"),
    Command("model_card", "Model card…"),
    Command("export_sequence", "Export sequence…"),
    Command("export_gallery", "Export gallery…"),
    Command("quit", "Quit", ("Ctrl+Q",)),
    Command("undo", "Undo", ("Ctrl+Z",), Menu.EDIT),
    Command("redo", "Redo", ("Ctrl+Y", "Ctrl+Shift+Z"), Menu.EDIT),
    Command("paste", "Paste image", ("Ctrl+V",), Menu.EDIT),
    Command("outpaint", "Outpaint…", ("Ctrl+Shift+O",), Menu.EDIT),
    # Return is the main key, Enter the keypad's: both start a run
    Command("generate", "Generate", ("Ctrl+Return", "Ctrl+Enter"), Menu.RUN),
    Command("cancel", "Cancel the run", ("Escape",), Menu.RUN),
    Command("fork", "Fork from the selected step", (), Menu.RUN),
    *(Command(command_name(tool.kind), tool.label, tool.keys, Menu.TOOLS, checkable=True) for tool in TOOLS),
    Command("brush_smaller", "Smaller brush", ("[",), Menu.TOOLS),
    Command("brush_larger", "Larger brush", ("]",), Menu.TOOLS),
    Command("shortcuts", "Keyboard shortcuts…", ("F1",), Menu.HELP),
)


def build_actions(parent: QWidget, menu_bar: QMenuBar, slots: dict[str, Callable[[], object]],
                  existing: dict[str, QAction] | None = None) -> dict[str, QAction]:
    """One QAction per command, with its keys, in its menu, triggering `slots[name]`.

    `existing` supplies actions made elsewhere (the undo stack's undo/redo, which keep their own
    enabled state and text); they get the table's keys and menu but keep their own trigger."""
    existing = existing or {}
    menus = {menu: menu_bar.addMenu(menu.value) for menu in Menu}
    actions: dict[str, QAction] = {}
    for command in COMMANDS:
        action = existing.get(command.name)
        if action is None:
            action = QAction(command.text, parent, checkable=command.checkable)
            slot = slots[command.name]
            action.triggered.connect(lambda _=False, s=slot: s())
        action.setShortcuts([QKeySequence(k) for k in command.keys])
        if command.keys:
            action.setToolTip(f"{command.text} ({', '.join(command.keys)})")
        parent.addAction(action)  # window-wide, also while the menu bar is hidden
        if command.menu is not None:
            menus[command.menu].addAction(action)
        actions[command.name] = action
    return actions


def shortcut_rows(commands: Iterable[Command] = COMMANDS) -> list[tuple[str, str]]:
    """(keys as the platform writes them, what they do), for every command that has keys."""
    return [(", ".join(QKeySequence(k).toString(QKeySequence.SequenceFormat.NativeText) for k in c.keys),
             c.text.rstrip("…")) for c in commands if c.keys]


class ShortcutsDialog(QDialog):
    """Help → Keyboard shortcuts: a two-column table read from COMMANDS."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        rows = shortcut_rows()
        self.table = QTableWidget(len(rows), 2)
        self.table.setHorizontalHeaderLabels(["Keys", "Does"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for row, (keys, text) in enumerate(rows):
            self.table.setItem(row, 0, QTableWidgetItem(keys))
            self.table.setItem(row, 1, QTableWidgetItem(text))
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        column = QVBoxLayout(self)
        column.addWidget(self.table)
        column.addWidget(buttons)
        self.resize(380, 560)
