"""One small generic registry for plugins (methods, tasks, encoders, datasets)."""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from bench.errors import UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to plugins; built-ins come from a package (its modules and subpackages, all
    but those named ``_*``), third parties from entry points."""

    def __init__(self, kind: str, package: str | None = None, entry_point_group: str | None = None):
        self.kind = kind
        self._package = package
        self._entry_point_group = entry_point_group
        self._items: dict[str, T] = {}
        self._loaded = False

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator registering an object under ``name``; a name may be used once."""

        def decorator(obj: T) -> T:
            self.add(name, obj)
            return obj

        return decorator

    def add(self, name: str, obj: T) -> None:
        """Register ``obj`` under ``name``."""
        if name in self._items and self._items[name] is not obj:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._items[name] = obj

    def get(self, name: str) -> T:
        """The plugin registered as ``name``; unknown names fail with a 'did you mean' hint."""
        self._load()
        if name not in self._items:
            raise UnknownNameError(self._unknown_message(name))
        return self._items[name]

    def names(self) -> list[str]:
        """Every registered name, sorted."""
        self._load()
        return sorted(self._items)

    def items(self) -> Iterator[tuple[str, T]]:
        """(name, plugin) pairs, sorted by name."""
        self._load()
        return iter(sorted(self._items.items()))

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._items

    def _unknown_message(self, name: str) -> str:
        close = difflib.get_close_matches(name, self._items, n=3, cutoff=0.5)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        known = ", ".join(sorted(self._items)) or "none"
        return f"unknown {self.kind} {name!r}.{hint} Known: {known}."

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        if self._package:
            package = importlib.import_module(self._package)
            prefix = f"{self._package}."
            for module in pkgutil.walk_packages(package.__path__, prefix):
                if not any(part.startswith("_") for part in module.name.split(".")):
                    importlib.import_module(module.name)
        if self._entry_point_group:
            for entry in entry_points(group=self._entry_point_group):
                entry.load()
