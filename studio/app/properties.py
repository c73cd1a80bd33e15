"""Observable properties for view models (the idea of krita-ai-diffusion's model/properties.py).

`Property(default)` on a QObject subclass stores a value and, when it changes, emits the signal
named `<name>_changed` that the class declares. Widgets connect to those signals and write back
through the property; neither side knows the other.
"""

from __future__ import annotations

from typing import Any


class Property:
    def __init__(self, default: Any, *, persist: bool = True) -> None:
        self.default = default
        self.persist = persist  # saved to QSettings by `save_properties`

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self.signal = f"{name}_changed"

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        return obj.__dict__.get(f"_prop_{self.name}", self.default)

    def __set__(self, obj: Any, value: Any) -> None:
        key = f"_prop_{self.name}"
        old = obj.__dict__.get(key, self.default)
        # the type counts too: a str equal to a str-enum member's value must not stand in for the member
        if type(old) is type(value) and old == value:
            return
        obj.__dict__[key] = value
        getattr(obj, self.signal).emit(value)


def properties_of(cls: type) -> dict[str, Property]:
    found: dict[str, Property] = {}
    for klass in reversed(cls.__mro__):
        found.update({k: v for k, v in vars(klass).items() if isinstance(v, Property)})
    return found


def save_properties(obj: Any, settings, group: str) -> None:
    """Write every persistent property to a QSettings group."""
    settings.beginGroup(group)
    for name, prop in properties_of(type(obj)).items():
        if prop.persist:
            value = getattr(obj, name)
            settings.setValue(name, value.value if hasattr(value, "value") else value)
    settings.endGroup()


def load_properties(obj: Any, settings, group: str) -> None:
    """Read persistent properties back, converting to each default's type; bad values are ignored."""
    settings.beginGroup(group)
    try:
        for name, prop in properties_of(type(obj)).items():
            if not prop.persist or not settings.contains(name):
                continue
            raw = settings.value(name)
            try:
                setattr(obj, name, _convert(raw, prop.default))
            except (TypeError, ValueError):
                continue
    finally:
        settings.endGroup()


def _convert(raw: Any, default: Any) -> Any:
    kind = type(default)
    if isinstance(default, bool):
        return raw if isinstance(raw, bool) else str(raw).lower() in ("true", "1")
    if hasattr(kind, "__members__"):  # an Enum
        return kind(raw)
    if isinstance(default, int | float | str):
        return kind(raw)
    return raw
