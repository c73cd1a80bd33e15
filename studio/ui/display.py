"""Before Qt starts: is there a display to open, and can Qt's X11 (xcb) plugin load?

Without either, QApplication prints a dozen lines and aborts the process (rc 134). Checked first, the
window can instead say in one line what is missing and which Debian package brings it.
"""

from __future__ import annotations

import ctypes
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

# Libraries the xcb plugin loads (Qt ≥ 6.5), and the Debian/Ubuntu packages that ship them.
XCB_PACKAGES: dict[str, str] = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libdbus-1.so.3": "libdbus-1-3",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libOpenGL.so.0": "libopengl0",
    "libGLX.so.0": "libglx0",
}
NO_DISPLAY = "no display: set DISPLAY or WAYLAND_DISPLAY (or QT_QPA_PLATFORM=offscreen)"
# a platform Qt can start without a window system; anything we do not know we leave to Qt
WINDOW_SYSTEMS = {"xcb", "wayland", "wayland-egl"}
_MISSING = re.compile(r"([\w.+-]+\.so[\w.]*): cannot open shared object file")

Loader = Callable[[str], object]


def display_problem(environ: Mapping[str, str], plugins: Path | None, *, load: Loader = ctypes.CDLL,
                    system: str = sys.platform) -> str | None:
    """What keeps the window from opening, in one line, or None when Qt should manage.

    `plugins` is Qt's plugin folder (QLibraryInfo's PluginsPath); `load` opens a shared library the way
    the dynamic loader will when Qt loads its platform plugin (tests pass a fake)."""
    if not system.startswith("linux"):
        return None
    platforms = [p.split(":")[0].strip() for p in environ.get("QT_QPA_PLATFORM", "").split(";") if p.strip()]
    if any(p not in WINDOW_SYSTEMS for p in platforms):
        return None  # offscreen, vnc, eglfs…: no display needed
    x11, wayland = bool(environ.get("DISPLAY")), bool(environ.get("WAYLAND_DISPLAY"))
    wants_xcb = platforms == ["xcb"] or (not platforms and not wayland)
    if platforms == ["xcb"] and not x11:
        return "no X display: set DISPLAY (or QT_QPA_PLATFORM=offscreen)"
    if not x11 and not wayland:
        return NO_DISPLAY
    if wants_xcb and plugins is not None:
        return xcb_problem(plugins / "platforms" / "libqxcb.so", load)
    return None


def xcb_problem(plugin: Path, load: Loader = ctypes.CDLL) -> str | None:
    """Load Qt's xcb plugin as Qt will; a library it cannot find becomes one line naming its package."""
    if not plugin.exists():
        return None  # a build without the plugin: Qt says what it has
    try:
        load(str(plugin))
    except OSError as exc:
        found = _MISSING.search(str(exc))
        if found is None:
            return f"Qt's xcb platform plugin does not load ({exc})"
        library = found.group(1)
        package = XCB_PACKAGES.get(library)
        remedy = f"apt-get install {package}" if package else "install the package that provides it"
        return f"Qt's xcb platform plugin needs {library} ({remedy}; the README lists all it needs)"
    return None
