"""The canvas tools, in one table: what each is called, its keys, its cursor, the layer it edits and what
a press, a drag and a release do. The Tools menu, the tool bar, the shortcuts, the Help dialog and the
canvas's tooltip are all made from it, so a new tool is one entry here (and a class, if it behaves like
none of these).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from PySide6.QtCore import QObject, QPointF, Qt, Signal

from studio.ui.canvas_document import WHITE, CanvasDocument, Layer


class Tool(str, Enum):
    """Names the tools; the value is the name of its command (`tool.<value>`)."""

    BRUSH = "brush"
    ERASER = "eraser"
    MASK = "mask"
    MASK_ERASER = "mask eraser"
    EYEDROPPER = "eyedropper"
    FILL = "fill"


class Ink(Enum):
    """What a stroke lays down."""

    BRUSH_COLOUR = "the brush colour"
    WHITE = "white"  # the painting's ground (erasing), or full coverage on the mask


class CanvasTool(Protocol):
    kind: Tool
    label: str  # the menu's and the tool bar's text
    keys: tuple[str, ...]
    cursor: Qt.CursorShape
    target: Layer  # the layer it edits (or reads)

    def press(self, doc: CanvasDocument, point: QPointF) -> None: ...

    def move(self, doc: CanvasDocument, point: QPointF) -> None: ...  # with the button held

    def release(self, doc: CanvasDocument) -> None: ...


@dataclass(frozen=True)
class StrokeTool:
    """Dabs along the pointer while the button is held; one undo step per stroke."""

    kind: Tool
    label: str
    keys: tuple[str, ...]
    cursor: Qt.CursorShape
    target: Layer
    ink: Ink
    erase: bool = False  # take coverage away instead of laying ink down (the unmask brush)

    def press(self, doc: CanvasDocument, point: QPointF) -> None:
        colour = doc.colour if self.ink is Ink.BRUSH_COLOUR else WHITE
        doc.begin_stroke(point, self.target, colour, erase=self.erase)

    def move(self, doc: CanvasDocument, point: QPointF) -> None:
        doc.continue_stroke(point)

    def release(self, doc: CanvasDocument) -> None:
        doc.end_stroke(self.label.lower())


@dataclass(frozen=True)
class PickTool:
    """The brush takes the colour under the pointer; dragging keeps picking (no undo step: nothing changes)."""

    kind: Tool
    label: str
    keys: tuple[str, ...]
    cursor: Qt.CursorShape
    target: Layer = Layer.PAINT

    def press(self, doc: CanvasDocument, point: QPointF) -> None:
        doc.pick_colour(point)

    def move(self, doc: CanvasDocument, point: QPointF) -> None:
        doc.pick_colour(point)

    def release(self, doc: CanvasDocument) -> None:
        pass


@dataclass(frozen=True)
class FillTool:
    """Fills the connected region of similar colour under the click with the brush colour."""

    kind: Tool
    label: str
    keys: tuple[str, ...]
    cursor: Qt.CursorShape
    target: Layer = Layer.PAINT

    def press(self, doc: CanvasDocument, point: QPointF) -> None:
        doc.flood_fill(int(point.x()), int(point.y()))

    def move(self, doc: CanvasDocument, point: QPointF) -> None:
        pass

    def release(self, doc: CanvasDocument) -> None:
        pass


_CROSS, _POINT = Qt.CursorShape.CrossCursor, Qt.CursorShape.PointingHandCursor
TOOLS: tuple[CanvasTool, ...] = (
    StrokeTool(Tool.BRUSH, "Brush", ("B",), _CROSS, Layer.PAINT, Ink.BRUSH_COLOUR),
    StrokeTool(Tool.ERASER, "Eraser", ("E",), _CROSS, Layer.PAINT, Ink.WHITE),
    StrokeTool(Tool.MASK, "Mask", ("M",), _CROSS, Layer.MASK, Ink.WHITE),
    StrokeTool(Tool.MASK_ERASER, "Unmask", ("Shift+M",), _CROSS, Layer.MASK, Ink.WHITE, erase=True),
    PickTool(Tool.EYEDROPPER, "Pick a colour", ("I",), _POINT),
    FillTool(Tool.FILL, "Fill", ("G",), _POINT),
)


def command_name(kind: Tool) -> str:
    """The tool's entry in the command table (ui/actions.py)."""
    return f"tool.{kind.value}"


def tooltip(tools: tuple[CanvasTool, ...] = TOOLS) -> str:
    """The canvas's tooltip: every tool's key, then the brush and view controls."""
    keys = " · ".join(f"{t.keys[0]} {t.label.lower()}" for t in tools if t.keys)
    return f"{keys} · [ ] brush size · wheel zoom · middle-drag pan"


class ToolBox(QObject):
    """The tool in hand; the canvas widget hands it the mouse."""

    changed = Signal(object)  # the CanvasTool now in hand

    def __init__(self, doc: CanvasDocument, tools: tuple[CanvasTool, ...] = TOOLS,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.tools = {tool.kind: tool for tool in tools}
        self.current: CanvasTool = tools[0]
        self._down = False  # a press went to the current tool and its release has not

    def select(self, kind: Tool) -> None:
        if self._down:  # switching mid-stroke (a key while dragging) ends the stroke first
            self.release()
        self.current = self.tools[kind]
        self.changed.emit(self.current)

    def press(self, point: QPointF) -> None:
        self._down = True
        self.current.press(self.doc, point)

    def move(self, point: QPointF) -> None:
        if self._down:
            self.current.move(self.doc, point)

    def release(self) -> None:
        if self._down:
            self._down = False
            self.current.release(self.doc)
