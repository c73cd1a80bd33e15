"""Bindings between widgets and view-model properties; the only glue widgets need.

Each `bind_*` shows the property's value at once, keeps the widget and the property in step from then on,
and returns a `Binding` holding its connections: a widget that goes away before its view model (a dialog,
a panel rebuilt for another model) disconnects, so the view model does not keep calling into it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtCore import QMetaObject, QObject
from PySide6.QtWidgets import QCheckBox, QComboBox, QLabel, QLineEdit, QPlainTextEdit, QSlider, QSpinBox


class Binding:
    """The connections one bind call made."""

    def __init__(self, connections: Iterable[QMetaObject.Connection]) -> None:
        self._connections = list(connections)

    @property
    def connected(self) -> bool:
        return bool(self._connections)

    def disconnect(self) -> None:
        """Undo every connection; calling it again does nothing."""
        for connection in self._connections:
            QObject.disconnect(connection)
        self._connections.clear()


def _changed(model: QObject, name: str):
    return getattr(model, f"{name}_changed")


def bind_signal(signal, slot: Callable[..., object]) -> Binding:
    """A plain connection, as a Binding: for a view-model signal that is not a property (a message)."""
    return Binding([signal.connect(slot)])


def bind_to(model: QObject, name: str, show: Callable[[Any], object]) -> Binding:
    """One way: `show(value)` now and whenever the property changes (a plot, a label, a preview)."""
    show(getattr(model, name))
    return Binding([_changed(model, name).connect(show)])


def bind_text(widget: QLineEdit | QPlainTextEdit, model: QObject, name: str) -> Binding:
    if isinstance(widget, QLineEdit):
        widget.setText(getattr(model, name))
        return Binding([
            widget.textChanged.connect(lambda text: setattr(model, name, text)),
            _changed(model, name).connect(lambda v: widget.setText(v) if widget.text() != v else None),
        ])
    widget.setPlainText(getattr(model, name))
    return Binding([
        widget.textChanged.connect(lambda: setattr(model, name, widget.toPlainText())),
        _changed(model, name).connect(lambda v: widget.setPlainText(v) if widget.toPlainText() != v else None),
    ])


def bind_slider(slider: QSlider, label: QLabel, model: QObject, name: str, scale: float = 1.0,
                fmt: str = "{:g}") -> Binding:
    """An integer slider for a float (or int) property: slider value = property / scale."""
    kind = type(getattr(model, name))

    def show(value) -> None:
        position = round(value / scale)
        if slider.value() != position:
            slider.setValue(position)
        label.setText(fmt.format(value))

    def store(position: int) -> None:
        setattr(model, name, kind(position * scale) if kind is int else round(position * scale, 4))

    show(getattr(model, name))
    return Binding([slider.valueChanged.connect(store), _changed(model, name).connect(show)])


def bind_spin(spin: QSpinBox, model: QObject, name: str) -> Binding:
    spin.setValue(getattr(model, name))
    return Binding([
        spin.valueChanged.connect(lambda v: setattr(model, name, int(v))),
        _changed(model, name).connect(lambda v: spin.setValue(v) if spin.value() != v else None),
    ])


def bind_check(box: QCheckBox, model: QObject, name: str) -> Binding:
    box.setChecked(getattr(model, name))
    return Binding([
        box.toggled.connect(lambda v: setattr(model, name, bool(v))),
        _changed(model, name).connect(lambda v: box.setChecked(v) if box.isChecked() != v else None),
    ])


def bind_enum(combo: QComboBox, model: QObject, name: str, values: list, labels: list[str] | None = None) -> Binding:
    """A combo box over enum members (shown by `labels`, else by their label or value).

    The members stay on the Python side, indexed by position: item data would come back from Qt as a
    plain str, and a str that equals a member's value is not the member."""
    values = list(values)
    for n, value in enumerate(values):
        combo.addItem(labels[n] if labels is not None else str(getattr(value, "label", value.value)))

    def show(value) -> None:
        index = values.index(value) if value in values else -1
        if index >= 0 and combo.currentIndex() != index:
            combo.setCurrentIndex(index)

    def store(index: int) -> None:
        if 0 <= index < len(values):
            setattr(model, name, values[index])

    show(getattr(model, name))
    return Binding([combo.currentIndexChanged.connect(store), _changed(model, name).connect(show)])
