"""Hardware profiles: preprocessing, input window, training schedule and per-method overrides.

A profile is a YAML file of this schema (the built-ins live in bench/grid/profiles/*.yaml)::

    description: one line saying what the profile is for
    preprocessing: {rate: 100, leads: "12", ...}    # bench.data.preprocess.Preprocessing
    window_s: 2.5                                   # crop length of pretraining = eval window
    input: shared      # shared: every method gets the preprocessing and window above (the
                       # controlled comparison); native: a method that declares its paper's
                       # input (Method.native_input: rate, leads, window, normalisation) gets it
    pretrain_seeds: 1                               # default `bench run --pretrain-seeds`
    train: {epochs: 5, batch_size: 64, lr: 1.0e-3}  # bench.training.config.TrainConfig
    methods:                                        # optional, per registered method name
      jepa:
        config: {...}   # fields of the method's config_class (encoder size, mask ratio ...)
        train: {...}    # TrainConfig fields that differ for this method (lr, batch_size ...)
        evaluation: {...}  # EvaluationConfig fields for this method's cells (its head, schedule)
    evaluation: {stride_s: null, aggregate: mean, linear: {...}, finetune: {...}}
                                                    # bench.evaluation.config.EvaluationConfig

Unknown fields, wrong types and out-of-range values raise ConfigError naming the file. Method
sections are plain mappings checked against the method registry when a method is resolved
(``Profile.resolve``), since methods are plugins that may be installed later. A matched
baseline (``random_init[cpc]``, ``supervised[jepa]``) resolves to the SSL method's own config,
input and evaluation section, around the baseline (``bench.method.MatchedConfig``).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml

from bench.config import check_range, deep_merge, from_dict, replace, to_dict
from bench.data.preprocess import Preprocessing
from bench.errors import ConfigError
from bench.evaluation.config import EvaluationConfig
from bench.method import METHODS, MatchedConfig
from bench.method_names import split_matched
from bench.training.config import TrainConfig
from bench.training.spec import PretrainSetup

SECTION_KEYS: tuple[str, ...] = ("config", "train", "evaluation")
InputChoice = Literal["shared", "native"]
OVERRIDE_KEYS: tuple[str, ...] = ("preprocessing", "window_s", "train", "method")


@dataclass(frozen=True)
class Profile:
    """A parsed profile; ``methods`` maps method names to {"config": {...}, "train": {...}}."""

    name: str
    description: str = ""
    preprocessing: Preprocessing = field(default_factory=Preprocessing)
    window_s: float = 2.5
    input: InputChoice = "shared"
    pretrain_seeds: int = 1  # pretraining seeds per method: train.seed and the ones after it
    train: TrainConfig = field(default_factory=TrainConfig)
    methods: dict[str, Any] = field(default_factory=dict)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)

    def __post_init__(self) -> None:
        check_range("profile.window_s", self.window_s, 0.01)
        if self.input not in ("shared", "native"):
            raise ConfigError(f"profile.input = {self.input!r} is not 'shared' or 'native'")
        check_range("profile.pretrain_seeds", self.pretrain_seeds, 1)
        for method, section in self.methods.items():
            where = f"profile.methods.{method}"
            if not isinstance(section, Mapping):
                raise ConfigError(f"{where} must be a mapping with keys {SECTION_KEYS}")
            unknown = [key for key in section if key not in SECTION_KEYS]
            if unknown:
                raise ConfigError(
                    f"unknown field {where}.{unknown[0]}; known: {', '.join(SECTION_KEYS)}"
                )
            for key in SECTION_KEYS:
                if not isinstance(section.get(key) or {}, Mapping):
                    raise ConfigError(f"{where}.{key} must be a mapping")
            replace(self.train, section.get("train") or {}, where=f"{where}.train")
            evaluation = section.get("evaluation") or {}
            replace(self.evaluation, evaluation, where=f"{where}.evaluation")

    def resolve(self, method: str, overrides: Mapping[str, Any] | None = None) -> PretrainSetup:
        """The setup of ``method`` under this profile plus command-line ``overrides``.

        ``overrides`` (from ``bench.config.parse_overrides``) may hold ``preprocessing``,
        ``window_s``, ``train`` and ``method`` (fields of the method's config). Precedence:
        method defaults < profile section < overrides; profile train < section train <
        override train. With ``input: native`` a method's ``native_input`` replaces the
        profile's preprocessing and window (overrides still apply on top).
        """
        overrides = dict(overrides or {})
        unknown = [key for key in overrides if key not in OVERRIDE_KEYS]
        if unknown:
            raise ConfigError(
                f"unknown override {unknown[0]!r}; use one of {', '.join(OVERRIDE_KEYS)} "
                "(e.g. train.lr=1e-4 or method.<field>=...)"
            )
        self.check_method_names()
        baseline, backbone = split_matched(method)
        if backbone is not None:
            return self._resolve_matched(baseline, backbone, overrides)
        method_class = METHODS.get(method)
        section = self.methods.get(method, {})
        config_data = deep_merge(section.get("config") or {}, overrides.get("method") or {})
        where = f"profile {self.name}: {method}"
        train = replace(self.train, section.get("train") or {}, where=f"{where}.train")
        native = self.input == "native" or method_class.fixed_input
        regime = method_class.native_input if native else None
        shared = regime.preprocessing() if regime is not None else self.preprocessing
        preprocessing = replace(shared, overrides.get("preprocessing") or {})
        window_s = overrides.get("window_s", self.window_s if regime is None else regime.window_s)
        if not isinstance(window_s, (int, float)) or isinstance(window_s, bool):
            raise ConfigError(f"window_s must be a number of seconds, got {window_s!r}")
        check_range("window_s", window_s, 0.01)
        return PretrainSetup(
            method=method_class,
            method_config=from_dict(method_class.config_class, config_data, where=where),
            train=replace(train, overrides.get("train") or {}, where="train"),
            preprocessing=preprocessing,
            window_s=float(window_s),
        )

    def _resolve_matched(
        self, baseline: str, backbone: str, overrides: Mapping[str, Any]
    ) -> PretrainSetup:
        """``baseline`` built on ``backbone``'s network, config and input (overrides: its)."""
        baseline_class = METHODS.get(baseline)
        if not baseline_class.builds_on_backbones:
            raise ConfigError(
                f"method {baseline!r} cannot be built on another method's network "
                f"({baseline}[{backbone}]); use random_init[...] or supervised[...]"
            )
        inner = self.resolve(backbone, overrides)
        if not inner.method.has_own_network():
            raise ConfigError(
                f"{baseline}[{backbone}]: {backbone!r} is a baseline; name an SSL method"
            )
        config = MatchedConfig(inner.method.name, to_dict(inner.method_config))
        return PretrainSetup(
            baseline_class, config, inner.train, inner.preprocessing, inner.window_s
        )

    def evaluation_for(self, method: str) -> EvaluationConfig:
        """The evaluation of ``method``'s cells: the profile's, with its section's
        ``evaluation`` on top (a matched baseline takes its SSL method's section)."""
        _, backbone = split_matched(method)
        section = self.methods.get(backbone or method, {})
        where = f"profile {self.name}: {backbone or method}.evaluation"
        return replace(self.evaluation, section.get("evaluation") or {}, where=where)

    def check_method_names(self) -> None:
        """ConfigError for a method section naming no registered method (typos included)."""
        known = METHODS.names()
        for method in self.methods:
            if method not in known:
                close = difflib.get_close_matches(method, known, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ConfigError(
                    f"profile {self.name}: section methods.{method} names no registered "
                    f"method{hint}; registered: {', '.join(known) or 'none'}"
                )


def builtin_profiles() -> list[str]:
    """Names of the profiles shipped in bench/grid/profiles."""
    folder = resources.files("bench.grid.profiles")
    return sorted(
        p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml")
    )


def load_profile(name_or_path: str | Path) -> Profile:
    """A built-in profile by name (``smoke``, ``paper``) or a YAML file of the same schema."""
    text, source, name = _profile_text(str(name_or_path))
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"profile {source} is not valid YAML: {error}") from error
    if not isinstance(data, dict):
        raise ConfigError(f"profile {source} must be a mapping of fields")
    try:
        return from_dict(Profile, {"name": name, **data}, where="profile")
    except ConfigError as error:
        raise ConfigError(f"profile {source}: {error}") from error


def _profile_text(name_or_path: str) -> tuple[str, str, str]:
    builtins = builtin_profiles()
    if name_or_path in builtins:
        resource = resources.files("bench.grid.profiles") / f"{name_or_path}.yaml"
        return resource.read_text(), f"{name_or_path!r}", name_or_path
    path = Path(name_or_path).expanduser()
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise ConfigError(f"profile file not found: {path}")
        return path.read_text(), str(path), path.stem
    close = difflib.get_close_matches(name_or_path, builtins, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ConfigError(
        f"unknown profile {name_or_path!r}{hint}; built-in: {', '.join(builtins)}, "
        "or pass the path of a YAML file"
    )
