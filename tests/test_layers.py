"""DESIGN §2's import rules, checked on the source: every import of studio/ (lazy ones inside functions
too) read with `ast`, so a layer break fails here instead of in a review."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "studio"


class Layer(str, Enum):
    CORE = "core"
    DIFFUSION = "diffusion"
    MODELS = "models"
    ENGINE = "engine"
    IMAGES = "images"
    TRAIN = "train"
    APP = "app"
    UI = "ui"
    CLI = "cli"
    MAIN = "__main__"
    PACKAGE = "__init__"  # studio/__init__.py: the version, open to everyone


# top-level modules of the CLI layer (DESIGN §2 names cli.py; its subcommands' bodies live beside it)
CLI_MODULES = {"cli", "commands", "batch", "training_commands", "openai_commands"}

# the layers each layer may import besides itself: DESIGN §2's arrows, closed transitively
# (`ui → app → engine → {diffusion, models} → core`), with images open to the layers that show or save images
MAY_IMPORT: dict[Layer, set[Layer]] = {
    Layer.CORE: set(),
    Layer.DIFFUSION: {Layer.CORE},
    Layer.MODELS: {Layer.CORE},
    Layer.ENGINE: {Layer.DIFFUSION, Layer.MODELS, Layer.CORE},
    Layer.IMAGES: {Layer.CORE},
    Layer.TRAIN: {Layer.DIFFUSION, Layer.MODELS, Layer.IMAGES, Layer.CORE},
    Layer.APP: {Layer.ENGINE, Layer.DIFFUSION, Layer.MODELS, Layer.IMAGES, Layer.CORE},
    Layer.UI: {Layer.APP, Layer.IMAGES, Layer.CORE},  # never engine, diffusion or models: the view model does
    Layer.CLI: {Layer.ENGINE, Layer.TRAIN, Layer.IMAGES, Layer.CORE},  # never models or torch: engine/train do
    Layer.MAIN: {Layer.UI, Layer.CLI, Layer.APP, Layer.ENGINE, Layer.CORE},
    Layer.PACKAGE: set(),
}
QT_LAYERS = {Layer.APP, Layer.UI, Layer.MAIN}
QT_PACKAGES = {"PySide6", "qasync"}
TORCH_LAYERS = {Layer.DIFFUSION, Layer.MODELS, Layer.ENGINE, Layer.TRAIN}
TORCH_PACKAGES = {"torch", "torchvision", "safetensors.torch"}

# (importing file, imported module) pairs that break a rule and are being moved; each names its issue, and
# test_every_exception_still_exists fails once the import is gone, so the entry is removed with it.
# Empty: the window's imports of engine.forward_preview and engine.model_info (issue 13 item 10) moved behind
# app's view models (app/schedule.py, app/session.py).
ALLOWED_FOR_NOW: set[tuple[str, str]] = set()


@dataclass(frozen=True)
class Import:
    file: str  # relative to the repository root
    line: int
    module: str  # absolute dotted name
    source: Layer

    @property
    def target(self) -> Layer | None:
        """The studio layer imported, or None for a package outside studio."""
        parts = self.module.split(".")
        if parts[0] != "studio":
            return None
        return layer_of_name(parts[1]) if len(parts) > 1 else Layer.PACKAGE

    def __str__(self) -> str:
        return f"{self.file}:{self.line} ({self.source.value}) imports {self.module}"


def layer_of_name(name: str) -> Layer | None:
    """The layer of a top-level package or module of studio/, None for one DESIGN §2 does not place."""
    if name in CLI_MODULES:
        return Layer.CLI
    try:
        return Layer(name)
    except ValueError:
        return None


def layer_of_file(path: Path) -> Layer | None:
    parts = path.relative_to(ROOT).parts
    return layer_of_name(parts[0] if len(parts) > 1 else path.stem)


def imports_of(path: Path) -> list[Import]:
    """Every import statement of a file, relative ones made absolute, `from studio import x` read as the
    module studio.x, and `importlib.import_module("…")` with a literal name counted too."""
    rel = str(path.relative_to(ROOT.parent))
    package = list(path.relative_to(ROOT.parent).with_suffix("").parts)[:-1]
    source = layer_of_file(path)
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), rel)):
        for module in _modules(node, package):
            found.append(Import(rel, node.lineno, module, source))
    return found


def _modules(node: ast.AST, package: list[str]) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        base = ".".join(package[: len(package) - node.level + 1] if node.level else [])
        module = ".".join(p for p in (base, node.module or "") if p)
        if module == "studio" or (node.level and not node.module):  # `from studio import cli`
            return [f"{module}.{alias.name}" if _is_module(f"{module}.{alias.name}") else module
                    for alias in node.names]
        return [module]
    if (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
            and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
        return [node.args[0].value]
    return []


SOURCES = sorted(ROOT.rglob("*.py"))
def _is_module(dotted: str) -> bool:
    path = ROOT.parent.joinpath(*dotted.split("."))
    return path.is_dir() or path.with_suffix(".py").is_file()


ALL_IMPORTS = [imp for path in SOURCES if layer_of_file(path) is not None for imp in imports_of(path)]


def breaks(rule) -> list[str]:
    return [str(imp) for imp in ALL_IMPORTS if rule(imp) and (imp.file, imp.module) not in ALLOWED_FOR_NOW]


def test_every_module_belongs_to_a_layer():
    assert [str(path.relative_to(ROOT.parent)) for path in SOURCES if layer_of_file(path) is None] == []
    assert [str(imp) for imp in ALL_IMPORTS if imp.module.startswith("studio.") and imp.target is None] == []


def test_the_walk_sees_the_imports_it_must_judge():
    """The rules below are only as good as the walk: it must find lazy, relative and from-package imports."""
    modules = {(imp.file, imp.module) for imp in ALL_IMPORTS}
    assert ("studio/cli.py", "studio.commands") in modules  # `from studio import commands`, inside main()
    assert ("studio/engine/pipeline.py", "torch") in modules
    assert len({imp.file for imp in ALL_IMPORTS}) > 50


def test_each_layer_imports_only_the_layers_below_it():
    assert breaks(lambda imp: imp.target not in (None, imp.source, Layer.PACKAGE)
                  and imp.target not in MAY_IMPORT[imp.source]) == []


def test_nothing_but_main_imports_the_window():
    assert breaks(lambda imp: imp.target is Layer.UI and imp.source not in (Layer.UI, Layer.MAIN)) == []


def test_only_the_cli_and_main_reach_the_cli():
    assert breaks(lambda imp: imp.target is Layer.CLI and imp.source not in (Layer.CLI, Layer.MAIN)) == []


def test_only_app_ui_and_main_import_qt():
    assert breaks(lambda imp: imp.module.split(".")[0] in QT_PACKAGES and imp.source not in QT_LAYERS) == []


def test_only_diffusion_models_engine_and_train_import_torch():
    assert breaks(lambda imp: _is_torch(imp.module) and imp.source not in TORCH_LAYERS) == []


def _is_torch(module: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in TORCH_PACKAGES)


def test_no_two_layers_import_each_other_even_through_others():
    edges: dict[Layer, set[Layer]] = {}
    for imp in ALL_IMPORTS:
        if imp.target not in (None, imp.source, Layer.PACKAGE):
            edges.setdefault(imp.source, set()).add(imp.target)
    loops = sorted(f"{a.value} ↔ {b.value}" for a in edges for b in _reachable(edges, a)
                   if a.value < b.value and a in _reachable(edges, b))
    assert loops == []


def _reachable(edges: dict[Layer, set[Layer]], start: Layer) -> set[Layer]:
    seen, todo = set(), [start]
    while todo:
        for nxt in edges.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_the_allowed_layers_themselves_have_no_loop():
    edges = {layer: set(targets) for layer, targets in MAY_IMPORT.items()}
    assert [layer for layer in Layer if layer in _reachable(edges, layer)] == []


def test_every_exception_still_exists():
    """An entry whose import is gone must be removed, so the list never hides a new break."""
    assert ALLOWED_FOR_NOW - {(imp.file, imp.module) for imp in ALL_IMPORTS} == set()
