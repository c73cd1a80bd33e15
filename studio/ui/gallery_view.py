"""The gallery: results with their recipes; reuse settings, send to canvas, upscale, export, delete."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget

from studio.app.gallery import Gallery, GalleryEntry
from studio.core.settings import JobKind, Recipe
from studio.images.metadata import parameters_text
from studio.ui.canvas_document import rgb_to_qimage

CAPTION_CHARS = 16  # a long prompt must not widen its thumbnail's cell


def caption(recipe: Recipe | None) -> str:
    """What a thumbnail says: the prompt it used (an upscale used none) and the seed, to find it again."""
    if recipe is None:
        return "(cancelled)"
    s = recipe.settings
    what = "upscale" if recipe.kind is JobKind.UPSCALE else (s.prompt[:CAPTION_CHARS] or "(no prompt)")
    return f"{what}\nseed {s.seed}"


class GalleryView(QWidget):
    reuse = Signal(object)
    to_canvas = Signal(object)
    upscale = Signal(object)
    export = Signal(object)

    def __init__(self, gallery: Gallery, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.gallery = gallery
        self.list = QListWidget()
        self.list.setViewMode(QListWidget.ViewMode.IconMode)
        self.list.setIconSize(QSize(72, 72))
        self.list.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.list.setMinimumHeight(110)
        self.list.setSelectionMode(QListWidget.SelectionMode.ExtendedSelection)
        buttons = QHBoxLayout()
        self.buttons = {}
        for key, text, tip in (("reuse", "Reuse", "reuse this result's settings"),
                               ("to_canvas", "To canvas", "send this image to the canvas"),
                               ("upscale", "Upscale", "run the super-resolution stage on it"),
                               ("export", "Export…", "export the selected (or all) images"),
                               ("delete", "Delete", "remove from the gallery")):
            button = QPushButton(text)
            button.setToolTip(tip)
            button.clicked.connect(lambda _=False, k=key: self._act(k))
            buttons.addWidget(button)
            self.buttons[key] = button
        column = QVBoxLayout(self)
        column.addWidget(self.list)
        column.addLayout(buttons)
        gallery.changed.connect(self.refresh)
        self.list.currentRowChanged.connect(lambda _: self._enable())
        self.refresh()

    def refresh(self) -> None:
        self.list.clear()
        for entry in self.gallery.entries:
            icon = QIcon(QPixmap.fromImage(rgb_to_qimage(entry.image)).scaled(
                72, 72, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation))
            item = QListWidgetItem(icon, caption(entry.recipe))
            item.setToolTip(parameters_text(entry.recipe) if entry.recipe else "last x̂₀ of a cancelled run")
            item.setData(Qt.ItemDataRole.UserRole, entry)
            self.list.addItem(item)
        self._enable()

    def selected(self) -> GalleryEntry | None:
        item = self.list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item else None

    def selected_entries(self) -> list[GalleryEntry]:
        return [item.data(Qt.ItemDataRole.UserRole) for item in self.list.selectedItems()]

    def _enable(self) -> None:
        entry = self.selected()
        for key, button in self.buttons.items():
            enabled = entry is not None and (key != "reuse" or entry.recipe is not None)
            button.setEnabled(enabled or (key == "export" and bool(self.gallery.entries)))

    def _act(self, key: str) -> None:
        entry = self.selected()
        if key == "export":
            self.export.emit(self.selected_entries())
            return
        if entry is None:
            return
        if key == "delete":
            self.gallery.remove(entry)
        else:
            getattr(self, key).emit(entry)
