"""The canvas widget: shows the layers (the mask as a translucent red overlay), takes the mouse."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QWidget

from studio.ui.canvas_document import CanvasDocument
from studio.ui.tools import CanvasTool, ToolBox, tooltip

MASK_TINT = QColor(255, 40, 80, 110)


class CanvasView(QWidget):
    image_dropped = Signal(str)

    def __init__(self, document: CanvasDocument, tools: ToolBox, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc, self.tools = document, tools
        self.zoom = 2.0
        self.offset = QPointF(0, 0)
        self._panning: QPointF | None = None
        self._preview: QImage | None = None  # the forward-process preview while strength moves
        self.setMinimumSize(300, 300)
        self.setAcceptDrops(True)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setToolTip(tooltip())
        self._shown_size = document.paint.size()
        document.changed.connect(self._on_changed)
        tools.changed.connect(self._show_tool)
        self._show_tool(tools.current)

    def _on_changed(self) -> None:
        size = self.doc.paint.size()
        if size != self._shown_size:  # a canvas grown by outpainting (or its undo): fit it in the view
            self._shown_size = size
            fit = min(self.width() / size.width(), self.height() / size.height())
            self.zoom, self.offset = max(0.25, min(2.0, fit)), QPointF(0, 0)
        self.update()

    def _show_tool(self, tool: CanvasTool) -> None:
        self.setCursor(tool.cursor)

    def show_preview(self, image: QImage | None) -> None:
        self._preview = image
        self.update()

    def _frame(self) -> QRectF:
        width, height = self.doc.paint.width() * self.zoom, self.doc.paint.height() * self.zoom
        return QRectF((self.width() - width) / 2 + self.offset.x(), (self.height() - height) / 2 + self.offset.y(),
                      width, height)

    def to_image(self, pos: QPointF) -> QPointF:
        frame = self._frame()
        return QPointF((pos.x() - frame.x()) / self.zoom, (pos.y() - frame.y()) / self.zoom)

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(58, 58, 62))
        frame = self._frame()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self.zoom < 1)
        painter.drawImage(frame, self._preview if self._preview is not None else self.doc.paint)
        tinted = QPixmap.fromImage(self.doc.mask_layer)
        tint_painter = QPainter(tinted)
        tint_painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_SourceIn)
        tint_painter.fillRect(tinted.rect(), MASK_TINT)
        tint_painter.end()
        painter.drawPixmap(frame.toRect(), tinted)
        painter.setPen(QColor(120, 120, 128))
        painter.drawRect(frame)
        painter.end()

    def mousePressEvent(self, event) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.MiddleButton:
            self._panning = event.position()
        elif event.button() == Qt.MouseButton.LeftButton:
            self.tools.press(self.to_image(event.position()))

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        if self._panning is not None:
            self.offset += event.position() - self._panning
            self._panning = event.position()
            self.update()
        elif event.buttons() & Qt.MouseButton.LeftButton:
            self.tools.move(self.to_image(event.position()))

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.MiddleButton:
            self._panning = None
        elif event.button() == Qt.MouseButton.LeftButton:
            self.tools.release()

    def wheelEvent(self, event) -> None:  # noqa: N802
        factor = 1.15 if event.angleDelta().y() > 0 else 1 / 1.15
        self.zoom = min(16.0, max(0.25, self.zoom * factor))
        self.update()

    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if event.mimeData().hasUrls() or event.mimeData().hasImage():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        data = event.mimeData()
        if data.hasImage():
            self.doc.load_image(QImage(data.imageData()), "drop image")
        elif data.hasUrls():  # a file: the session opens it (a studio PNG brings its settings)
            self.image_dropped.emit(data.urls()[0].toLocalFile())
