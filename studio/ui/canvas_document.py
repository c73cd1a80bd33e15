"""The canvas document: a paint layer and a mask layer, the brush, the edits tools make, and undo/redo.

Layers are QImages; every stroke (or fill, clear, image load) is one QUndoStack command holding the
layer before and after, so undo is exact. Which edit a mouse press makes is the tool's business
(ui/tools.py); the document offers the edits.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np
from PySide6.QtCore import QObject, QPointF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QImage, QPainter, QRadialGradient, QUndoCommand, QUndoStack

CANVAS_SIZE = 256
WHITE = QColor(255, 255, 255)


class Layer(str, Enum):
    PAINT = "paint"
    MASK = "mask"


@dataclass(frozen=True, eq=False)
class _Stroke:
    layer: Layer
    colour: QColor
    erase: bool  # take coverage away (the unmask brush) instead of laying colour down
    before: QImage  # the layer when the stroke began, for its undo step


class _Snapshot(QUndoCommand):
    def __init__(self, doc: CanvasDocument, layer: Layer, before: QImage, after: QImage, text: str) -> None:
        super().__init__(text)
        self.doc, self.layer, self.before, self.after = doc, layer, before, after
        self._first = True

    def redo(self) -> None:
        if self._first:  # the change is already on the layer when the command is pushed
            self._first = False
            return
        self.doc.set_layer(self.layer, self.after.copy())

    def undo(self) -> None:
        self.doc.set_layer(self.layer, self.before.copy())


class CanvasDocument(QObject):
    changed = Signal()
    colour_picked = Signal(QColor)

    def __init__(self, size: int = CANVAS_SIZE, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.size = size
        self.paint = QImage(size, size, QImage.Format.Format_RGB32)
        self.paint.fill(Qt.GlobalColor.white)
        self.mask_layer = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        self.mask_layer.fill(Qt.GlobalColor.transparent)
        self.undo_stack = QUndoStack(self)
        self.colour = QColor(220, 40, 40)
        self.brush_size = 24.0
        self.hardness = 0.7
        self.opacity = 1.0
        self._stroke: _Stroke | None = None
        self._last: QPointF | None = None

    # --- layers -------------------------------------------------------------------------------
    def layer(self, which: Layer) -> QImage:
        return self.paint if which is Layer.PAINT else self.mask_layer

    def set_layer(self, which: Layer, image: QImage) -> None:
        if which is Layer.PAINT:
            self.paint = image
        else:
            self.mask_layer = image
        self.changed.emit()

    # --- strokes ------------------------------------------------------------------------------
    def begin_stroke(self, point: QPointF, layer: Layer, colour: QColor, *, erase: bool = False) -> None:
        """Start a brush stroke on a layer with a dab at `point`; `end_stroke` makes it one undo step."""
        self._stroke = _Stroke(layer, QColor(colour), erase, self.layer(layer).copy())
        self._last = point
        self._dab(point)

    def continue_stroke(self, point: QPointF) -> None:
        if self._last is None:
            return
        spacing = max(1.0, self.brush_size * 0.15)
        delta = point - self._last
        distance = (delta.x() ** 2 + delta.y() ** 2) ** 0.5
        steps = int(distance / spacing)
        for i in range(1, steps + 1):
            self._dab(self._last + delta * (i / steps))
        if steps:
            self._last = point

    def end_stroke(self, text: str = "stroke") -> None:
        stroke = self._stroke
        if stroke is None:
            return
        self.undo_stack.push(_Snapshot(self, stroke.layer, stroke.before, self.layer(stroke.layer).copy(), text))
        self._stroke, self._last = None, None

    def _dab(self, point: QPointF) -> None:
        stroke = self._stroke
        radius = self.brush_size / 2
        painter = QPainter(self.layer(stroke.layer))
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        if stroke.erase:
            painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_DestinationOut)
        colour = stroke.colour
        gradient = QRadialGradient(point, radius)
        solid = QColor(colour)
        solid.setAlphaF(self.opacity)
        edge = QColor(colour)
        edge.setAlphaF(0.0)
        gradient.setColorAt(0.0, solid)
        gradient.setColorAt(max(0.0, min(self.hardness, 0.999)), solid)
        gradient.setColorAt(1.0, edge)
        painter.setBrush(QBrush(gradient))
        painter.drawEllipse(point, radius, radius)
        painter.end()
        self.changed.emit()

    def pick_colour(self, point: QPointF) -> None:
        """The brush takes the painting's colour under `point` (the eyedropper)."""
        x, y = int(point.x()), int(point.y())
        if self.paint.rect().contains(x, y):
            self.colour = QColor(self.paint.pixel(x, y))
            self.colour_picked.emit(self.colour)

    # --- whole-layer edits --------------------------------------------------------------------
    def fill(self, which: Layer) -> None:
        before = self.layer(which).copy()
        self.layer(which).fill(self.colour if which is Layer.PAINT else QColor(255, 255, 255))
        self.undo_stack.push(_Snapshot(self, which, before, self.layer(which).copy(), "fill"))
        self.changed.emit()

    def flood_fill(self, x: int, y: int, tolerance: int = 24) -> None:
        """Fill the connected region of similar colour around (x, y) on the paint layer."""
        if not self.paint.rect().contains(x, y):
            return
        before = self.paint.copy()
        pixels = qimage_to_rgb(self.paint).astype(np.int16)
        region = connected_region(np.abs(pixels - pixels[y, x]).max(axis=2) <= tolerance, x, y)
        rgb = np.array([self.colour.red(), self.colour.green(), self.colour.blue()], np.int16)
        alpha = self.opacity
        pixels[region] = np.round(alpha * rgb + (1 - alpha) * pixels[region]).astype(np.int16)
        self.paint = rgb_to_qimage(pixels.astype(np.uint8)).convertToFormat(QImage.Format.Format_RGB32)
        self.undo_stack.push(_Snapshot(self, Layer.PAINT, before, self.paint.copy(), "fill"))
        self.changed.emit()

    def clear(self, which: Layer) -> None:
        before = self.layer(which).copy()
        self.layer(which).fill(Qt.GlobalColor.white if which is Layer.PAINT else Qt.GlobalColor.transparent)
        self.undo_stack.push(_Snapshot(self, which, before, self.layer(which).copy(), f"clear {which.value}"))
        self.changed.emit()

    def place_image(self, image: np.ndarray, text: str) -> None:
        """An RGB array (uint8 [H, W, 3]) on the paint layer, as `load_image`: what the session hands over."""
        self.load_image(rgb_to_qimage(image), text)

    def grow_to(self, image: np.ndarray, text: str) -> None:
        """An RGB array (uint8 [H, W, 3]) becomes the canvas at its own size (an outpainted canvas), with an
        empty mask of that size: one undoable step, which brings back both layers at their old size."""
        paint = rgb_to_qimage(image).convertToFormat(QImage.Format.Format_RGB32)
        mask = QImage(paint.size(), QImage.Format.Format_ARGB32_Premultiplied)
        mask.fill(Qt.GlobalColor.transparent)
        self.undo_stack.beginMacro(text)
        for which, after in ((Layer.PAINT, paint), (Layer.MASK, mask)):
            before = self.layer(which).copy()
            self.set_layer(which, after)
            self.undo_stack.push(_Snapshot(self, which, before, after.copy(), text))
        self.undo_stack.endMacro()

    def load_image(self, image: QImage, text: str = "open image") -> None:
        """Place an image on the paint layer, scaled to fit and centred on white."""
        before = self.paint.copy()
        width, height = self.paint.width(), self.paint.height()
        scaled = image.scaled(width, height, Qt.AspectRatioMode.KeepAspectRatio,
                              Qt.TransformationMode.SmoothTransformation)
        painter = QPainter(self.paint)
        painter.fillRect(0, 0, width, height, Qt.GlobalColor.white)
        painter.drawImage((width - scaled.width()) // 2, (height - scaled.height()) // 2, scaled)
        painter.end()
        self.undo_stack.push(_Snapshot(self, Layer.PAINT, before, self.paint.copy(), text))
        self.changed.emit()

    # --- arrays for the engine ----------------------------------------------------------------
    def painting(self) -> np.ndarray:
        return qimage_to_rgb(self.paint)

    def mask(self) -> np.ndarray:
        alpha = self.mask_layer.convertToFormat(QImage.Format.Format_ARGB32)
        array = qimage_array(alpha)
        return np.ascontiguousarray(array[..., 3])

    def restore_layers(self, paint: np.ndarray | None, mask: np.ndarray | None) -> None:
        """Replace the layers (an autosave coming back; not an undo step): paint as uint8 [H, W, 3], the
        mask as uint8 [H, W] coverage. The paint keeps its size (an outpainted canvas comes back grown); a mask
        of another size is scaled to it."""
        if paint is not None:
            self.paint = rgb_to_qimage(paint).convertToFormat(QImage.Format.Format_RGB32)
        if mask is not None:
            self.mask_layer = mask_to_qimage(mask).scaled(self.paint.size())
        self.changed.emit()


def connected_region(similar: np.ndarray, x: int, y: int) -> np.ndarray:
    """The 4-connected component of `similar` (a bool [H, W] map) that contains (x, y)."""
    region = np.zeros_like(similar)
    if not similar[y, x]:
        return region
    h, w = similar.shape
    stack = [(y, x)]
    region[y, x] = True
    while stack:
        cy, cx = stack.pop()
        for ny, nx in ((cy - 1, cx), (cy + 1, cx), (cy, cx - 1), (cy, cx + 1)):
            if 0 <= ny < h and 0 <= nx < w and similar[ny, nx] and not region[ny, nx]:
                region[ny, nx] = True
                stack.append((ny, nx))
    return region


def qimage_array(image: QImage) -> np.ndarray:
    """A 32-bit QImage as a uint8 [H, W, 4] copy in B, G, R, A byte order (little-endian)."""
    image = image.convertToFormat(QImage.Format.Format_ARGB32)
    ptr = image.constBits()
    array = np.frombuffer(ptr, np.uint8, count=image.sizeInBytes()).reshape(image.height(), image.bytesPerLine())
    return array[:, : image.width() * 4].reshape(image.height(), image.width(), 4)[..., [2, 1, 0, 3]].copy()


def qimage_to_rgb(image: QImage) -> np.ndarray:
    return np.ascontiguousarray(qimage_array(image)[..., :3])


def mask_to_qimage(coverage: np.ndarray) -> QImage:
    """uint8 [H, W] coverage → the mask layer's white-with-alpha image (premultiplied: every channel = alpha)."""
    coverage = np.ascontiguousarray(coverage, dtype=np.uint8)
    h, w = coverage.shape
    pixels = np.ascontiguousarray(np.repeat(coverage[..., None], 4, axis=2))
    return QImage(pixels.data, w, h, 4 * w, QImage.Format.Format_ARGB32_Premultiplied).copy()


def rgb_to_qimage(array: np.ndarray) -> QImage:
    """uint8 [H, W, 3] → QImage (copied, so the array may go)."""
    array = np.ascontiguousarray(array)
    h, w, _ = array.shape
    return QImage(array.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


