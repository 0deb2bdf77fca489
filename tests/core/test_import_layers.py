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

Every import statement counts, including those inside functions and under TYPE_CHECKING.
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
GROUND = 0

ALLOWED: dict[tuple[str, str], str] = {}
"""(importing module, imported unit) pairs that may break the order, each with its reason."""


def module_name(path: Path) -> str:
    """Dotted module name of a file under bench/ (a package's __init__ is the package)."""
    parts = path.relative_to(BENCH.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def unit_of(module: str) -> tuple[str, int]:
    """The layer unit (package or ground-floor module) holding ``module``, and its layer."""
    matches = [
        (unit, level)
        for level, units in enumerate(LAYERS)
        for unit in units
        if module == unit or (unit != "bench" and module.startswith(unit + "."))
    ]
    if not matches:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS (and the README)")
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


def violations(root: Path = BENCH) -> list[str]:
    """Every import under ``root`` that runs against the layer order."""
    problems = []
    for path in sorted(root.rglob("*.py")):
        own_unit, own_level = unit_of(module_name(path))
        for line, target in imported_modules(path):
            if target.split(".")[0] != "bench":
                continue
            unit, level = unit_of(target)
            if unit == own_unit or (level == own_level == GROUND) or level < own_level:
                continue
            if (module_name(path), unit) in ALLOWED:
                continue
            problems.append(f"{path.relative_to(root.parent)}:{line} imports {target} ({unit})")
    return problems


def test_every_bench_module_imports_downwards_only() -> None:
    assert violations() == []


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
    ],
)
def test_the_check_catches_upward_sibling_nested_and_relative_imports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module: str, source: str, expected: str
) -> None:
    fake = tmp_path / "bench"
    for package in ("training", "data", "reporting", "evaluation", "grid", "tracking", "encoders"):
        (fake / package).mkdir(parents=True, exist_ok=True)
        (fake / package / "__init__.py").write_text("")
    (fake / "__init__.py").write_text("")
    for name in ("grid/plan.py", "grid/results.py", "tracking/sync.py", "encoders/base.py"):
        (fake / name).write_text("")
    (fake / module).write_text(source)
    monkeypatch.setattr(f"{__name__}.BENCH", fake)
    found = violations(fake)
    assert len(found) == 1 and expected in found[0]
