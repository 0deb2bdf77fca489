"""Imports run one way: each module under bench/ imports only its own package and lower layers.

The layers, bottom to top (README, "Architecture"):

    ground floor     bench (package: __version__), config, registry, errors, paths, hashing,
                     atomic, schema_race, method_names
    data, encoders   bench.data, bench.encoders (siblings: neither imports the other)
    contracts        bench.method, bench.task (siblings)
    checkpoints      bench.checkpoints (published models on the method contract)
    training         bench.training
    evaluation       bench.evaluation (fine-tuning reuses training's optimiser and devices)
    grid             bench.grid
    outputs          bench.reporting, bench.tracking, bench.perf (siblings)
    tuning           bench.tuning (logs trials through tracking)
    commands         bench.commands
    entry            bench.cli, then bench.__main__ (python -m bench)

Inside bench.data the rooms are layered the same way (bench/data/__init__.py), bottom to top:

    ground           bench.data (package), layout, folds, identity, formats/
    signals          bench.data.signals
    readers          bench.data.preprocess, wfdb/, synthetic/ (siblings)
    registry         bench.data.loading
    storage          bench.data.storage
    plugins          bench.data.sources, bench.data.download (siblings)
    prepared         bench.data.prepared
    corpora          bench.data.corpus

Every import statement counts, including those inside functions and under TYPE_CHECKING, and no
module of bench/ is part of an import circle (a piece two modules share lives in a module both
import downwards, e.g. bench.task.contract, bench.grid.unit, bench.grid.cell_record).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"

LAYERS: tuple[tuple[str, ...], ...] = (
    ("bench", "bench.config", "bench.registry", "bench.errors", "bench.paths", "bench.hashing",
     "bench.atomic", "bench.schema_race", "bench.method_names"),
    ("bench.data", "bench.encoders"),
    ("bench.method", "bench.task"),
    ("bench.checkpoints",),
    ("bench.training",),
    ("bench.evaluation",),
    ("bench.grid",),
    ("bench.reporting", "bench.tracking", "bench.perf"),
    ("bench.tuning",),
    ("bench.commands",),
    ("bench.cli",),
    ("bench.__main__",),
)  # fmt: skip
DATA_LAYERS: tuple[tuple[str, ...], ...] = (
    ("bench.data", "bench.data.layout", "bench.data.folds", "bench.data.identity",
     "bench.data.formats", "bench.data.cinc_scoring"),
    ("bench.data.signals",),
    ("bench.data.preprocess", "bench.data.wfdb", "bench.data.synthetic"),
    ("bench.data.loading",),
    ("bench.data.storage",),
    ("bench.data.sources", "bench.data.download"),
    ("bench.data.prepared",),
    ("bench.data.corpus",),
)  # fmt: skip
GROUND = 0

ALLOWED: dict[tuple[str, str], str] = {}
"""(importing module, imported unit) pairs that may break the order, each with its reason."""


def module_name(path: Path) -> str:
    """Dotted module name of a file under bench/ (a package's __init__ is the package)."""
    parts = path.relative_to(BENCH.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def unit_of(module: str, layers: tuple[tuple[str, ...], ...] = LAYERS) -> tuple[str, int]:
    """The layer unit (package or ground-floor module) holding ``module``, and its layer."""
    top = layers[0][0]
    matches = [
        (unit, level)
        for level, units in enumerate(layers)
        for unit in units
        if module == unit or (unit != top and module.startswith(unit + "."))
    ]
    if not matches:
        raise AssertionError(f"{module} is in no layer of {top}: add it to the layers")
    return max(matches, key=lambda match: len(match[0]))


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every import in ``path``; ``from bench import x`` names x's
    module when x is a submodule, else the package."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = (
        module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    )
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                is_module = (BENCH.parent / candidate.replace(".", "/")).with_suffix(".py").exists()
                is_package = (BENCH.parent / candidate.replace(".", "/") / "__init__.py").exists()
                found.append((node.lineno, candidate if is_module or is_package else base))
    return found


def runs_downwards(module: str, target: str, layers: tuple[tuple[str, ...], ...]) -> bool:
    """Whether ``module`` may import ``target`` under ``layers``: the same unit, two units of
    the ground floor, or a lower layer."""
    own_unit, own_level = unit_of(module, layers)
    unit, level = unit_of(target, layers)
    return unit == own_unit or (level == own_level == GROUND) or level < own_level


def violations(root: Path = BENCH) -> list[str]:
    """Every import under ``root`` that runs against the layer order (bench's, and inside
    bench.data the rooms' order)."""
    problems = []
    for path in sorted(root.rglob("*.py")):
        module = module_name(path)
        for line, target in imported_modules(path):
            if target.split(".")[0] != "bench" or (module, unit_of(target)[0]) in ALLOWED:
                continue
            inside_data = all(name.startswith("bench.data") for name in (module, target))
            layers = DATA_LAYERS if inside_data else LAYERS
            if not runs_downwards(module, target, layers):
                unit = unit_of(target, layers)[0]
                problems.append(f"{path.relative_to(root.parent)}:{line} imports {target} ({unit})")
    return problems


def import_circles(root: Path = BENCH) -> list[list[str]]:
    """The import circles among the modules under ``root``: strongly connected components of
    more than one module (or a module importing itself) of the graph of all its imports."""
    graph = {
        module_name(path): {t for _, t in imported_modules(path) if t.split(".")[0] == "bench"}
        for path in sorted(root.rglob("*.py"))
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(module: str) -> None:  # Tarjan's algorithm
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in sorted(graph.get(module, ())):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while not component or component[-1] != module:
                component.append(stack.pop())
            if len(component) > 1 or module in graph.get(module, ()):
                circles.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return circles


def test_every_bench_module_imports_downwards_only() -> None:
    assert violations() == []


def test_no_module_of_bench_is_part_of_an_import_circle() -> None:
    assert import_circles() == []


def test_every_room_of_bench_data_has_its_docstring() -> None:
    rooms = [p for p in (BENCH / "data").iterdir() if (p / "__init__.py").is_file()]
    assert {room.name for room in rooms} >= {"formats", "storage", "wfdb", "synthetic", "corpus"}
    for room in rooms:
        assert ast.get_docstring(ast.parse((room / "__init__.py").read_text())), room


def test_bench_never_imports_a_plugin_package_by_name() -> None:
    """Methods and tasks are found through their registries, never imported by the engine."""
    offenders = [
        f"{path.relative_to(BENCH.parent)}:{line} imports {target}"
        for path in sorted(BENCH.rglob("*.py"))
        for line, target in imported_modules(path)
        if target.split(".")[0] in ("methods", "tasks")
    ]
    assert offenders == []


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        ("training/bad.py", "from bench.grid.plan import Cell\n", "imports bench.grid.plan"),
        ("data/bad.py", "def f():\n    import bench.encoders.base\n", "bench.encoders"),
        ("reporting/bad.py", "from bench.tracking import sync\n", "bench.tracking.sync"),
        ("evaluation/bad.py", "from ..grid import results\n", "bench.grid.results"),
        ("data/storage/bad.py", "from bench.data.sources import x\n", "bench.data.sources"),
        ("data/wfdb/bad.py", "def f():\n    from bench.data.synthetic import y\n", "synthetic"),
    ],
)
def test_the_check_catches_upward_sibling_nested_and_relative_imports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module: str, source: str, expected: str
) -> None:
    fake = tmp_path / "bench"
    packages = ("training", "data", "reporting", "evaluation", "grid", "tracking", "encoders")
    rooms = ("data/storage", "data/sources", "data/wfdb", "data/synthetic")
    for package in packages + rooms:
        (fake / package).mkdir(parents=True, exist_ok=True)
        (fake / package / "__init__.py").write_text("")
    (fake / "__init__.py").write_text("")
    for name in ("grid/plan.py", "grid/results.py", "tracking/sync.py", "encoders/base.py",
                 "data/sources/x.py", "data/synthetic/y.py"):  # fmt: skip
        (fake / name).write_text("")
    (fake / module).write_text(source)
    monkeypatch.setattr(f"{__name__}.BENCH", fake)
    found = violations(fake)
    assert len(found) == 1 and expected in found[0]


def test_the_circle_check_finds_a_circle_through_a_lazy_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "bench"
    (fake / "data").mkdir(parents=True)
    for name in ("__init__.py", "data/__init__.py"):
        (fake / name).write_text("")
    (fake / "data" / "a.py").write_text("from bench.data.b import B\n")
    (fake / "data" / "b.py").write_text("def f():\n    from bench.data import a\n")
    monkeypatch.setattr(f"{__name__}.BENCH", fake)
    assert import_circles(fake) == [["bench.data.a", "bench.data.b"]]
