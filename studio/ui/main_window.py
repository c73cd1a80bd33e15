"""The main window: canvas in the centre, the panel on the right, live view, schedule and gallery.

Layout and wiring only: what a command does lives in the session and its view models (studio/app), what a
tool does in the tool table (ui/tools.py). The window adds the dialogs a command needs.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QColorDialog,
    QFileDialog,
    QInputDialog,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from studio.app.export import GalleryExport
from studio.app.heap import settle_startup_heap, settle_when_idle
from studio.app.session import Session
from studio.images.sequences import SequenceFormat
from studio.ui.actions import ShortcutsDialog, build_actions
from studio.ui.bindings import Binding, bind_signal, bind_to
from studio.ui.canvas_document import CanvasDocument, rgb_to_qimage
from studio.ui.canvas_view import CanvasView
from studio.ui.export_dialog import ExportDialog
from studio.ui.gallery_view import GalleryView
from studio.ui.live_view import LiveView
from studio.ui.outpaint_dialog import OutpaintDialog
from studio.ui.panel import Panel
from studio.ui.schedule_plot import SchedulePlot
from studio.ui.tool_bar import ToolBar
from studio.ui.tools import TOOLS, ToolBox, command_name

# the file dialog's filters, each with the sequence format it writes
SEQUENCE_FILTERS: dict[str, SequenceFormat] = {
    "Animated GIF (*.gif)": SequenceFormat.GIF,
    "Animated WebP (*.webp)": SequenceFormat.WEBP,
    "Contact sheet (*.png)": SequenceFormat.SHEET,
    "PNG frames (folder)": SequenceFormat.FRAMES,
}
MODEL_FILTER = "Models (*.safetensors *.json)"
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.bmp)"


class MainWindow(QMainWindow):
    def __init__(self, session: Session, document: CanvasDocument) -> None:
        super().__init__()
        self.session, self.doc = session, document
        self.setWindowTitle("Diffusion Studio")
        self.tools = ToolBox(document, parent=self)
        self.canvas = CanvasView(document, self.tools)
        self.panel = Panel(session)
        self.live = LiveView(session)
        self.schedule = SchedulePlot()
        self.gallery = GalleryView(session.gallery)
        self.exporter = GalleryExport(self)
        self._build_layout()
        self._build_actions()
        self.tool_bar = ToolBar(document, self.tools, {t.kind: self.actions[command_name(t.kind)] for t in TOOLS},
                                self.choose_colour)
        self.addToolBar(Qt.ToolBarArea.LeftToolBarArea, self.tool_bar)
        self.bindings: list[Binding] = []
        self._wire()
        self._fit_to_screen()

    # --- layout -------------------------------------------------------------------------------
    def _build_layout(self) -> None:
        left = QWidget()
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.canvas, 3)
        column.addWidget(self.gallery, 1)
        right = QWidget()
        side = QVBoxLayout(right)
        side.setContentsMargins(0, 0, 0, 0)
        side.addWidget(self.live)
        side.addWidget(self.schedule)
        side.addStretch(1)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.addWidget(self.panel)
        split.setSizes([520, 420, 340])
        self.setCentralWidget(split)

    def _fit_to_screen(self) -> None:
        screen = QGuiApplication.primaryScreen()
        space = screen.availableGeometry() if screen is not None else None
        self.resize(min(1400, space.width()) if space else 1280, min(860, space.height()) if space else 820)

    def _build_actions(self) -> None:
        """Menus and window-wide keys, from the one table the Help dialog reads too (ui/actions.py)."""
        s = self.session
        slots = {
            "open_image": self.open_image, "open_model": self.open_model, "model_card": self.show_card,
            "import_checkpoint": self.import_checkpoint,
            "export_sequence": self.export_sequence,
            "export_gallery": lambda: self.export_gallery(self.gallery.selected_entries()),
            "quit": self.close, "paste": self.paste_image, "outpaint": self.outpaint,
            "generate": s.generate, "cancel": s.cancel, "fork": s.fork_from_current_step,
            "brush_smaller": lambda: self.tool_bar.scale_brush(0.8),
            "brush_larger": lambda: self.tool_bar.scale_brush(1.25),
            "shortcuts": self.show_shortcuts,
        }
        slots.update({command_name(t.kind): (lambda k=t.kind: self.tools.select(k)) for t in TOOLS})
        stack = self.doc.undo_stack
        existing = {"undo": stack.createUndoAction(self, "Undo"), "redo": stack.createRedoAction(self, "Redo")}
        self.actions = build_actions(self, self.menuBar(), slots, existing)

    def _wire(self) -> None:
        """Widgets → session by plain connections (they go with the widgets); session → widgets by bindings,
        let go when the window closes (the session may outlive it)."""
        s, status, preview = self.session, self.statusBar(), self.session.schedule
        self.panel.open_model.clicked.connect(self.open_model)
        self.panel.card.clicked.connect(self.show_card)
        self.live.export_requested.connect(self.export_sequence)
        self.canvas.image_dropped.connect(s.open_image)
        self.bindings += [
            bind_signal(s.error, self.show_error),
            bind_signal(s.message, lambda m: status.showMessage(m, 8000)),
            bind_signal(s.runner.status_changed, lambda m: status.showMessage(m)),
            bind_to(preview, "curve", self.schedule.show_curve),
            bind_to(preview, "start", self.schedule.set_start),
            bind_to(preview, "current", self.schedule.set_current),
            bind_signal(preview.noised_changed,
                        lambda image: self.canvas.show_preview(rgb_to_qimage(image) if image is not None else None)),
        ]
        self.gallery.reuse.connect(s.reuse)
        self.gallery.to_canvas.connect(s.send_to_canvas)
        self.gallery.upscale.connect(s.upscale)
        self.gallery.export.connect(self.export_gallery)
        self.exporter.finished.connect(lambda m: status.showMessage(m, 10000))

    # --- dialogs ------------------------------------------------------------------------------
    def choose_colour(self) -> None:
        colour = QColorDialog.getColor(self.doc.colour, self, "Brush colour")
        if colour.isValid():
            self.doc.colour = colour
            self.tool_bar.show_colour()

    def show_error(self, message: str) -> None:
        self.statusBar().showMessage(f"⚠ {message}", 15000)

    def open_model(self) -> None:
        """File → Open model file…: the session reads it in the background (the panel says "opening…")."""
        path, _ = QFileDialog.getOpenFileName(self, "Open model file", "", MODEL_FILTER)
        if path:
            self.session.open_model(path)

    def import_checkpoint(self) -> None:
        """File → Import checkpoint…: an OpenAI .pt, its family, its preset (or recognised), where to write it;
        the session imports it in the background (progress in the status bar) and opens the result."""
        source, _ = QFileDialog.getOpenFileName(self, "Import checkpoint", "", "PyTorch checkpoints (*.pt *.pth)")
        if not source:
            return
        importer = self.session.checkpoints
        family, ok = QInputDialog.getItem(self, "Import checkpoint", "Family:", list(importer.families), 0, False)
        if not ok:
            return
        choices = ["recognise from the file", *importer.presets(family)]
        preset, ok = QInputDialog.getItem(self, "Import checkpoint", "Preset:", choices, 0, False)
        if not ok:
            return
        stem = source.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        out, _ = QFileDialog.getSaveFileName(self, "Save model file", f"{stem}.safetensors",
                                             "Model files (*.safetensors)")
        if out:
            importer.start(family, source, out, "" if preset == choices[0] else preset)

    def show_card(self) -> QMessageBox | None:
        """The model's card, on demand (the Model card… button or menu entry)."""
        model = self.session.model
        if model is None:
            return None
        box = QMessageBox(QMessageBox.Icon.Information, "Model card", model.name, parent=self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setDetailedText(model.description)
        box.setInformativeText(model.description.split("\n  config:")[0])
        box.open()
        return box

    def show_shortcuts(self) -> ShortcutsDialog:
        dialog = ShortcutsDialog(self)
        dialog.open()
        return dialog

    def open_image(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open image", "", IMAGE_FILTER)
        if path:
            self.session.open_image(path)

    def paste_image(self) -> None:
        image = QGuiApplication.clipboard().image()
        if image.isNull():
            self.show_error("the clipboard holds no image")
        else:
            self.doc.load_image(image, "paste image")

    def outpaint(self) -> OutpaintDialog:
        """Edit → Outpaint…: how much to grow on each side, then the session paints it (progress and Esc as
        for any run)."""
        model = self.session.model
        dialog = OutpaintDialog(model.resolution if model is not None else None, self)
        dialog.accepted.connect(lambda: self.session.outpaint(dialog.growth(), dialog.overlap()))
        dialog.open()
        return dialog

    def export_gallery(self, selected=None) -> ExportDialog:
        """The batch-export dialog over the gallery (selected entries or all)."""
        dialog = ExportDialog(self.session.gallery.entries, list(selected or []), self.exporter,
                              Path.home() / "Pictures", self)
        dialog.open()
        return dialog

    def export_sequence(self) -> None:
        """Export sequence…: where and in which format, then the session writes it in the background."""
        if not self.session.timeline.frames:
            self.show_error("run something first: there are no steps to export")
            return
        path, chosen = QFileDialog.getSaveFileName(self, "Export sequence", "steps.gif", ";;".join(SEQUENCE_FILTERS))
        if path:
            self.session.export_sequence(path, SEQUENCE_FILTERS.get(chosen, SequenceFormat.FRAMES))

    def closeEvent(self, event) -> None:  # noqa: N802
        self.session.shutdown()
        for binding in self.bindings + self.panel.bindings:
            binding.disconnect()
        super().closeEvent(event)


def build_window(session_factory=None) -> MainWindow:
    """The document, the session and the window, wired; state restored from the last run (the model is
    read in the background: the window shows at once and says "opening…" until it is)."""
    document = CanvasDocument()
    session = session_factory(document) if session_factory else Session(document)
    window = MainWindow(session, document)
    session.restore()
    settle_startup_heap()
    settle_when_idle(session.background)
    return window
