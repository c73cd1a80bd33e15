"""Two-way bindings between widgets and view-model properties; the only glue widgets need."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QComboBox, QLabel, QLineEdit, QPlainTextEdit, QSlider, QSpinBox


def bind_text(widget: QLineEdit | QPlainTextEdit, model, name: str) -> None:
    signal = getattr(model, f"{name}_changed")
    if isinstance(widget, QLineEdit):
        widget.setText(getattr(model, name))
        widget.textChanged.connect(lambda text: setattr(model, name, text))
        signal.connect(lambda v: widget.setText(v) if widget.text() != v else None)
    else:
        widget.setPlainText(getattr(model, name))
        widget.textChanged.connect(lambda: setattr(model, name, widget.toPlainText()))
        signal.connect(lambda v: widget.setPlainText(v) if widget.toPlainText() != v else None)


def bind_slider(slider: QSlider, label: QLabel, model, name: str, scale: float = 1.0, fmt: str = "{:g}") -> None:
    """An integer slider for a float (or int) property: slider value = property / scale."""
    kind = type(getattr(model, name))

    def show(value) -> None:
        position = round(value / scale)
        if slider.value() != position:
            slider.setValue(position)
        label.setText(fmt.format(value))

    slider.valueChanged.connect(lambda v: setattr(model, name, kind(v * scale) if kind is int else round(v * scale, 4)))
    getattr(model, f"{name}_changed").connect(show)
    show(getattr(model, name))


def bind_spin(spin: QSpinBox, model, name: str) -> None:
    spin.setValue(getattr(model, name))
    spin.valueChanged.connect(lambda v: setattr(model, name, int(v)))
    getattr(model, f"{name}_changed").connect(lambda v: spin.setValue(v) if spin.value() != v else None)


def bind_check(box: QCheckBox, model, name: str) -> None:
    box.setChecked(getattr(model, name))
    box.toggled.connect(lambda v: setattr(model, name, bool(v)))
    getattr(model, f"{name}_changed").connect(lambda v: box.setChecked(v) if box.isChecked() != v else None)


def bind_enum(combo: QComboBox, model, name: str, values: list) -> None:
    """A combo box over enum members (shown by their label or value).

    The members stay on the Python side, indexed by position: item data would come back from Qt as a
    plain str, and a str that equals a member's value is not the member."""
    values = list(values)
    for value in values:
        combo.addItem(str(getattr(value, "label", value.value)))

    def show(value) -> None:
        index = values.index(value) if value in values else -1
        if index >= 0 and combo.currentIndex() != index:
            combo.setCurrentIndex(index)

    combo.currentIndexChanged.connect(lambda i: setattr(model, name, values[i]) if 0 <= i < len(values) else None)
    getattr(model, f"{name}_changed").connect(show)
    show(getattr(model, name))
