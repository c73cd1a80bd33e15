"""Edit → Outpaint…: how many pixels to add on each side of the canvas, and how far windows overlap."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QSpinBox, QWidget

MAX_GROWTH = 4096  # per side, as the outpainting geometry allows
SIDES = ("left", "top", "right", "bottom")
AUTO = -1  # the overlap spin box's "auto": half the model's size


class OutpaintDialog(QDialog):
    """Four spin boxes (left, top, right, bottom) and the overlap; the window hands the values to the session."""

    def __init__(self, window: int | None, parent: QWidget | None = None) -> None:
        """`window`: the model's size in pixels (None with no model open), for the defaults and the hint."""
        super().__init__(parent)
        self.setWindowTitle("Outpaint")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        form = QFormLayout(self)
        hint = "the new area is painted in overlapping windows"
        form.addRow(QLabel(f"{hint} of {window}×{window} px" if window else hint))
        self.sides: dict[str, QSpinBox] = {}
        for side in SIDES:
            box = QSpinBox(minimum=0, maximum=MAX_GROWTH, suffix=" px")
            box.setValue((window or 32) if side == "right" else 0)  # a start: one window's width
            self.sides[side] = box
            form.addRow(f"Add on the {side}:", box)
        self.overlap_box = QSpinBox(minimum=AUTO, maximum=MAX_GROWTH - 1, suffix=" px")
        self.overlap_box.setSpecialValueText("auto (half a window)")
        self.overlap_box.setValue(AUTO)
        form.addRow("Overlap:", self.overlap_box)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Outpaint")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def growth(self) -> tuple[int, int, int, int]:
        """Pixels to add on the left, top, right and bottom."""
        left, top, right, bottom = (self.sides[side].value() for side in SIDES)
        return left, top, right, bottom

    def overlap(self) -> int | None:
        """The windows' overlap in pixels; None for the default (half a window)."""
        value = self.overlap_box.value()
        return None if value == AUTO else value
