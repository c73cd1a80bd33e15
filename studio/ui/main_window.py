"""The main window: canvas in the centre, the panel on the right, live view, schedule and gallery."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QGuiApplication, QImage
from PySide6.QtWidgets import (
    QColorDialog,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSlider,
    QSplitter,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from studio.app.export import GalleryExport
from studio.app.generation import Mode
from studio.app.heap import settle_startup_heap
from studio.app.session import Session
from studio.core.settings import Stage
from studio.engine.forward_preview import alpha_bar_at_strength, noised_preview
from studio.engine.model_info import schedule_curve
from studio.images.files import ImageFileError
from studio.images.sequences import SequenceFormat, export_sequence
from studio.ui.actions import ShortcutsDialog, build_actions
from studio.ui.canvas_document import CanvasDocument, Layer, Tool, rgb_to_qimage
from studio.ui.canvas_view import CanvasView
from studio.ui.export_dialog import ExportDialog
from studio.ui.gallery_view import GalleryView
from studio.ui.live_view import LiveView
from studio.ui.panel import Panel
from studio.ui.schedule_plot import SchedulePlot

# the file dialog's filters, each with the sequence format it writes
SEQUENCE_FILTERS: dict[str, SequenceFormat] = {
    "Animated GIF (*.gif)": SequenceFormat.GIF,
    "Animated WebP (*.webp)": SequenceFormat.WEBP,
    "Contact sheet (*.png)": SequenceFormat.SHEET,
    "PNG frames (folder)": SequenceFormat.FRAMES,
}
# (label, CanvasDocument attribute, slider range, slider step in attribute units, how the value reads)
BRUSH_SLIDERS = (("Size", "brush_size", 1, 128, 1.0, "{:.0f} px"), ("Hardness", "hardness", 0, 100, 0.01, "{:.0%}"),
                 ("Opacity", "opacity", 5, 100, 0.01, "{:.0%}"))


class MainWindow(QMainWindow):
    def __init__(self, session: Session, document: CanvasDocument) -> None:
        super().__init__()
        self.session, self.doc = session, document
        self.setWindowTitle("Diffusion Studio")
        self.canvas = CanvasView(document)
        self.panel = Panel(session)
        self.live = LiveView(session)
        self.schedule = SchedulePlot()
        self.gallery = GalleryView(session.gallery)
        self.exporter = GalleryExport(self)
        self._plot_stage = Stage.BASE
        self._build_layout()
        self._build_actions()
        self._build_toolbar()
        self._wire()
        self.autosave = QTimer(self)
        self.autosave.setInterval(5000)
        self.autosave.timeout.connect(self.save_canvas)
        self.autosave.start()
        screen = QGuiApplication.primaryScreen()
        space = screen.availableGeometry() if screen is not None else None
        self.resize(min(1400, space.width()) if space else 1280, min(860, space.height()) if space else 820)

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

    def _build_actions(self) -> None:
        """Menus and window-wide keys, from the one table the Help dialog reads too (ui/actions.py)."""
        s = self.session
        slots = {
            "open_image": self.open_image, "open_model": self.open_model, "model_card": self.show_card,
            "export_sequence": self.export_sequence,
            "export_gallery": lambda: self.export_gallery(self.gallery.selected_entries()),
            "quit": self.close, "paste": self.paste_image,
            "generate": s.generate, "cancel": s.cancel, "fork": s.fork_from_current_step,
            "brush_smaller": lambda: self.brush_size_slider.setValue(max(1, int(self.doc.brush_size * 0.8))),
            "brush_larger": lambda: self.brush_size_slider.setValue(int(self.doc.brush_size * 1.25) + 1),
            "shortcuts": self.show_shortcuts,
        }
        slots.update({f"tool.{tool.value}": (lambda t=tool: self.set_tool(t)) for tool in Tool})
        stack = self.doc.undo_stack
        existing = {"undo": stack.createUndoAction(self, "Undo"), "redo": stack.createRedoAction(self, "Redo")}
        self.actions = build_actions(self, self.menuBar(), slots, existing)
        self.tool_actions = {tool: self.actions[f"tool.{tool.value}"] for tool in Tool}
        self.tool_actions[Tool.BRUSH].setChecked(True)

    def _build_toolbar(self) -> None:
        bar = QToolBar("Tools")
        self.addToolBar(Qt.ToolBarArea.LeftToolBarArea, bar)
        for action in self.tool_actions.values():
            bar.addAction(action)
        bar.addSeparator()
        self.colour_button = QPushButton("Colour")
        self.colour_button.clicked.connect(self.choose_colour)
        bar.addWidget(self.colour_button)
        for label, attr, low, high, scale, fmt in BRUSH_SLIDERS:
            slider = QSlider(Qt.Orientation.Horizontal)
            slider.setRange(low, high)
            slider.setToolTip(f"brush {label.lower()}")
            slider.setFixedWidth(70)
            value = QLabel()
            value.setMinimumWidth(value.fontMetrics().horizontalAdvance("100 %"))
            slider.valueChanged.connect(lambda v, a=attr, s=scale: setattr(self.doc, a, v * s))
            slider.valueChanged.connect(lambda v, w=value, s=scale, f=fmt: w.setText(f.format(v * s)))
            slider.setValue(round(getattr(self.doc, attr) / scale))
            value.setText(fmt.format(slider.value() * scale))
            bar.addWidget(QLabel(label))
            bar.addWidget(slider)
            bar.addWidget(value)
            setattr(self, f"{attr}_slider", slider)
            setattr(self, f"{attr}_value", value)
        bar.addSeparator()
        for text, which in (("Clear paint", Layer.PAINT), ("Clear mask", Layer.MASK)):
            button = QPushButton(text)
            button.clicked.connect(lambda _=False, w=which: self.doc.clear(w))
            bar.addWidget(button)
        self._show_colour()

    def _wire(self) -> None:
        s = self.session
        self.panel.open_model.clicked.connect(self.open_model)
        self.panel.card.clicked.connect(self.show_card)
        self.live.export_requested.connect(self.export_sequence)
        self.canvas.image_dropped.connect(self.load_image_file)
        self.doc.colour_picked.connect(lambda _: self._show_colour())
        s.error.connect(self.show_error)
        s.message.connect(lambda m: self.statusBar().showMessage(m, 8000))
        s.runner.status_changed.connect(lambda m: self.statusBar().showMessage(m))
        s.runner.step.connect(lambda e: self._show_step(e.frame))
        s.timeline.index_changed.connect(self._on_timeline)
        s.model_changed.connect(lambda _: self.update_schedule())
        g = s.generation
        g.steps_changed.connect(lambda _: self.update_schedule())
        g.strength_changed.connect(lambda _: self.update_strength_preview())
        g.mode_changed.connect(lambda _: self.update_strength_preview())
        self.strength_preview_timer = QTimer(self, singleShot=True, interval=900)
        self.strength_preview_timer.timeout.connect(lambda: self.canvas.show_preview(None))
        self.gallery.reuse.connect(lambda e: g.apply(e.recipe))
        self.gallery.to_canvas.connect(lambda e: self.doc.load_image(rgb_to_qimage(e.image), "send to canvas"))
        self.gallery.upscale.connect(self.upscale_entry)
        self.gallery.export.connect(self.export_gallery)
        self.exporter.finished.connect(lambda m: self.statusBar().showMessage(m, 10000))

    # --- actions ------------------------------------------------------------------------------
    def set_tool(self, tool: Tool) -> None:
        self.doc.tool = tool
        for t, action in self.tool_actions.items():
            action.setChecked(t is tool)

    def choose_colour(self) -> None:
        colour = QColorDialog.getColor(self.doc.colour, self, "Brush colour")
        if colour.isValid():
            self.doc.colour = colour
            self._show_colour()

    def _show_colour(self) -> None:
        self.colour_button.setStyleSheet(f"background: {self.doc.colour.name()}; color: white;")

    def show_error(self, message: str) -> None:
        self.statusBar().showMessage(f"⚠ {message}", 15000)

    def open_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open model file", "", "Models (*.safetensors *.json)")
        if path and self.session.open_model(path):
            self.statusBar().showMessage(f"opened {self.session.model.name} (its card: Model card…)", 8000)

    def show_card(self) -> QMessageBox | None:
        """The model's card, on demand (the Model card… button or menu entry)."""
        if self.session.model is None:
            return None
        box = QMessageBox(QMessageBox.Icon.Information, "Model card", self.session.model.name, parent=self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setDetailedText(self.session.model.description)
        box.setInformativeText(self.session.model.description.split("\n  config:")[0])
        box.open()
        return box

    def show_shortcuts(self) -> ShortcutsDialog:
        dialog = ShortcutsDialog(self)
        dialog.open()
        return dialog

    def open_image(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open image", "", "Images (*.png *.jpg *.jpeg *.webp *.bmp)")
        if path:
            self.load_image_file(path)

    def load_image_file(self, path: str) -> None:
        image = QImage(path)
        if image.isNull():
            self.show_error(f"{path}: not a readable image")
            return
        self.doc.load_image(image)
        from studio.images.metadata import read_recipe

        try:
            recipe = read_recipe(Path(path))
        except (OSError, ValueError):
            recipe = None
        if recipe is not None:
            self.session.generation.apply(recipe)
            self.statusBar().showMessage("settings restored from the image's recipe", 8000)

    def paste_image(self) -> None:
        image = QGuiApplication.clipboard().image()
        if image.isNull():
            self.show_error("the clipboard holds no image")
        else:
            self.doc.load_image(image, "paste image")

    def upscale_entry(self, entry) -> None:
        self.doc.load_image(rgb_to_qimage(entry.image), "upscale input")
        self.session.generation.mode = Mode.UPSCALE
        self.session.generate()

    def export_gallery(self, selected=None) -> ExportDialog:
        """The batch-export dialog over the gallery (selected entries or all)."""
        dialog = ExportDialog(self.session.gallery.entries, list(selected or []), self.exporter,
                              Path.home() / "Pictures", self)
        dialog.open()
        return dialog

    def export_sequence(self, path: str | None = None, fmt: SequenceFormat | None = None) -> None:
        frames = self.session.timeline.frames
        if not frames:
            self.show_error("run something first: there are no steps to export")
            return
        if path is None:
            path, chosen = QFileDialog.getSaveFileName(self, "Export sequence", "steps.gif",
                                                       ";;".join(SEQUENCE_FILTERS))
            if not path:
                return
            fmt = SEQUENCE_FILTERS.get(chosen, SequenceFormat.FRAMES)
        try:
            export_sequence([(f.x_t_preview[0], f.x0_preview[0]) for f in frames], Path(path), fmt)
            self.statusBar().showMessage(f"{len(frames)} steps exported to {path}", 8000)
        except (ImageFileError, ValueError) as exc:
            self.show_error(str(exc))

    def _on_timeline(self, _index: int) -> None:
        frame = self.session.timeline.current()
        self._show_step(frame)

    def _show_step(self, frame) -> None:
        """Mark the step on the plot of its own stage's chain (the SR stage has a chain of its own)."""
        if frame is not None and frame.stage is not self._plot_stage:
            self.update_schedule(frame.stage)
        self.schedule.set_current(frame.t if frame else None)

    def update_schedule(self, stage: Stage = Stage.BASE) -> None:
        model = self.session.model
        if model is None:
            return
        g = self.session.generation
        self._plot_stage = stage
        curve = schedule_curve(model, g.steps if stage is Stage.BASE else g.sr_steps, stage)
        self.schedule.set_schedule(*curve, stage=stage.value)
        if stage is Stage.BASE:
            self._curve = curve
            self.update_strength_preview(show=False)

    def update_strength_preview(self, show: bool = True) -> None:
        """While strength moves in strokes mode, show the painting noised to x_t₀ on the canvas."""
        g = self.session.generation
        if self.session.model is None or g.mode is not Mode.STROKES:
            self.schedule.set_start(None)
            return
        log_snr, chain = self._curve
        t0, abar = alpha_bar_at_strength(log_snr, chain, g.strength)
        self.schedule.set_start(t0 if g.strength > 0 else None)
        if show:
            self.strength_preview = noised_preview(self.doc.painting(), abar, seed=g.seed)
            self.canvas.show_preview(rgb_to_qimage(self.strength_preview))
            self.strength_preview_timer.start()

    # --- autosave -----------------------------------------------------------------------------
    def save_canvas(self) -> None:
        folder = self.session.folder
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for name, image in (("canvas-paint", self.doc.paint), ("canvas-mask", self.doc.mask_layer)):
                tmp = folder / f".{name}.part.png"
                if not image.save(str(tmp), "PNG"):
                    raise OSError(f"cannot write {tmp}")
                tmp.replace(folder / f"{name}.png")
        except OSError as exc:
            self.show_error(f"the canvas could not be autosaved: {exc}")

    def restore_canvas(self) -> None:
        folder = self.session.folder
        paint, mask = QImage(str(folder / "canvas-paint.png")), QImage(str(folder / "canvas-mask.png"))
        self.doc.restore_layers(paint if not paint.isNull() else None, mask if not mask.isNull() else None)

    def closeEvent(self, event) -> None:  # noqa: N802
        self.save_canvas()
        self.session.shutdown()
        super().closeEvent(event)


def build_window(session_factory=None) -> MainWindow:
    """The document, the session and the window, wired; state restored from the last run."""
    document = CanvasDocument()
    session = session_factory(document) if session_factory else Session(document)
    window = MainWindow(session, document)
    window.restore_canvas()
    session.restore()
    window.update_schedule()
    settle_startup_heap()
    return window


