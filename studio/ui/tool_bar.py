"""The canvas tool bar: the tools (from ui/tools.py's table, as the window's checkable actions), the brush
colour and sliders, and the two clear buttons."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QLabel, QPushButton, QSlider, QToolBar

from studio.ui.canvas_document import CanvasDocument, Layer
from studio.ui.tools import CanvasTool, Tool, ToolBox


@dataclass(frozen=True)
class BrushSlider:
    label: str
    attribute: str  # of CanvasDocument
    low: int
    high: int
    unit: float  # the attribute's value per slider step
    shows: str  # how the value reads beside the slider


BRUSH_SLIDERS = (BrushSlider("Size", "brush_size", 1, 128, 1.0, "{:.0f} px"),
                 BrushSlider("Hardness", "hardness", 0, 100, 0.01, "{:.0%}"),
                 BrushSlider("Opacity", "opacity", 5, 100, 0.01, "{:.0%}"))
CLEAR_BUTTONS = (("Clear paint", Layer.PAINT), ("Clear mask", Layer.MASK))


class ToolBar(QToolBar):
    def __init__(self, doc: CanvasDocument, tools: ToolBox, tool_actions: dict[Tool, QAction],
                 choose_colour: Callable[[], None]) -> None:
        super().__init__("Tools")
        self.doc, self.tool_actions = doc, tool_actions
        group = QActionGroup(self)  # exactly one tool is checked
        for action in tool_actions.values():
            group.addAction(action)
            self.addAction(action)
        tools.changed.connect(self._check)
        self._check(tools.current)
        self.addSeparator()
        self.colour_button = QPushButton("Colour")
        self.colour_button.clicked.connect(choose_colour)
        self.addWidget(self.colour_button)
        self.sliders: dict[str, QSlider] = {}
        self.values: dict[str, QLabel] = {}
        for spec in BRUSH_SLIDERS:
            self._add_slider(spec)
        self.addSeparator()
        for text, layer in CLEAR_BUTTONS:
            button = QPushButton(text)
            button.clicked.connect(lambda _=False, w=layer: doc.clear(w))
            self.addWidget(button)
        doc.colour_picked.connect(lambda _: self.show_colour())
        self.show_colour()

    def _add_slider(self, spec: BrushSlider) -> None:
        slider = QSlider(Qt.Orientation.Horizontal)
        slider.setRange(spec.low, spec.high)
        slider.setToolTip(f"brush {spec.label.lower()}")
        slider.setFixedWidth(70)
        value = QLabel()
        value.setMinimumWidth(value.fontMetrics().horizontalAdvance("100 %"))
        slider.setValue(round(getattr(self.doc, spec.attribute) / spec.unit))
        value.setText(spec.shows.format(slider.value() * spec.unit))
        slider.valueChanged.connect(lambda v: setattr(self.doc, spec.attribute, v * spec.unit))
        slider.valueChanged.connect(lambda v: value.setText(spec.shows.format(v * spec.unit)))
        self.addWidget(QLabel(spec.label))
        self.addWidget(slider)
        self.addWidget(value)
        self.sliders[spec.attribute], self.values[spec.attribute] = slider, value

    def scale_brush(self, factor: float) -> None:
        """[ and ]: a step of about a fifth, at least one pixel, through the slider (so it shows)."""
        size = self.doc.brush_size
        target = size * factor
        self.sliders["brush_size"].setValue(int(target) + 1 if factor > 1 else max(1, int(target)))

    def show_colour(self) -> None:
        self.colour_button.setStyleSheet(f"background: {self.doc.colour.name()}; color: white;")

    def _check(self, tool: CanvasTool) -> None:
        self.tool_actions[tool.kind].setChecked(True)
