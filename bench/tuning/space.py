"""Search spaces of ``bench tune``: which fields are tuned, over which ranges, and how a
trial's values become profile overrides.

A parameter is named by the same dotted path ``bench pretrain --set`` uses: ``train.<field>``
(a pretraining TrainConfig field), ``method.<field>`` (a field of the method's config) or
``evaluation.<...>`` (an EvaluationConfig field, e.g. ``evaluation.linear.c_grid``). A space
file is a YAML mapping of such names to specs::

    train.lr: {low: 1.0e-5, high: 3.0e-3, log: true}    # float (log-uniform)
    method.mask_blocks: {low: 2, high: 4}               # int (both bounds are ints)
    method.mask_type: {choices: [multiblock, random]}   # categorical
    train.weight_decay: null                            # drop a default parameter

A sampled number for a list field holds the whole list: ``evaluation.linear.c_grid`` = 0.3
means ``c_grid: [0.3]`` (the probe uses that one C) and ``method.block_ratio`` = 0.2 means
``block_ratio: [0.2, 0.2]`` (a fixed ratio instead of a range).

The default space is ``COMMON_PRETRAINING`` (methods that pretrain) + the method's entry of
``METHOD_DEFAULTS`` (methods without one get the common part only) + the protocol's entry of
``PROTOCOL_DEFAULTS`` (the fine-tune encoder LR scale only for pretrained encoders: a model
trained from scratch always uses 1.0). Ranges are meant for the ``smoke`` and ``paper``
profiles; narrow or widen them with a space file.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import optuna
import yaml

from bench.config import deep_merge, from_dict
from bench.errors import ConfigError
from bench.evaluation.config import EvaluationConfig
from bench.method import Method, Protocol
from bench.training.config import TrainConfig

Choice = str | int | float | bool
SpecDict = dict[str, Any]

COMMON_PRETRAINING: dict[str, SpecDict] = {
    "train.lr": {"low": 1e-5, "high": 3e-3, "log": True},
    "train.weight_decay": {"low": 1e-4, "high": 0.3, "log": True},
}
METHOD_DEFAULTS: dict[str, dict[str, SpecDict]] = {
    "jepa": {
        "method.mask_type": {"choices": ["multiblock", "random"]},
        "method.random_ratio": {"low": 0.4, "high": 0.85},
        "method.mask_blocks": {"low": 2, "high": 4},
        "method.block_ratio": {"low": 0.1, "high": 0.2},
        "method.ema_start": {"low": 0.99, "high": 0.9995},
    },
    "hybrid": {
        "method.mask_ratio": {"low": 0.5, "high": 0.9},
        "method.contrastive_weight": {"low": 0.01, "high": 1.0, "log": True},
        "method.temperature": {"low": 0.05, "high": 0.5, "log": True},
    },
    "cpc": {
        "method.predict_ahead_s": {"low": 0.04, "high": 0.24},
        "method.n_negatives": {"low": 16, "high": 256, "log": True},
    },
    "stmask": {
        "method.mask_ratio_range": {"low": 0.15, "high": 0.6},
        "method.shuffle_prob": {"low": 0.2, "high": 0.9},
        "method.lead_weight": {"low": 0.1, "high": 3.0, "log": True},
    },
}
PROTOCOL_DEFAULTS: dict[str, dict[str, SpecDict]] = {
    "linear": {"evaluation.linear.c_grid": {"low": 1e-4, "high": 100.0, "log": True}},
    "finetune": {
        "evaluation.finetune.lr": {"low": 1e-4, "high": 1e-2, "log": True},
        "evaluation.finetune.encoder_lr_scale": {"low": 0.01, "high": 1.0, "log": True},
    },
}
FROM_SCRATCH_ONLY = ("evaluation.finetune.encoder_lr_scale",)
ROOTS = ("train", "method", "evaluation")


@dataclass(frozen=True)
class ParamSpec:
    """One tuned parameter: a float or int range (``log`` for log-uniform, ``step`` for a
    grid) or a list of ``choices`` (type "categorical")."""

    name: str
    type: Literal["float", "int", "categorical"] = "float"
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[Choice, ...] | None = None

    def __post_init__(self) -> None:
        if self.choices is not None:
            if self.type != "categorical" or self.low is not None:
                raise ConfigError(f"space {self.name}: give either choices or low/high")
            if not self.choices:
                raise ConfigError(f"space {self.name}: choices must not be empty")
            return
        if self.low is None or self.high is None or self.type == "categorical":
            raise ConfigError(f"space {self.name}: needs low and high (or choices)")
        if not self.low <= self.high:
            raise ConfigError(f"space {self.name}: low = {self.low} is above high = {self.high}")
        if self.log and self.low <= 0:
            raise ConfigError(f"space {self.name}: a log range needs low > 0")
        if self.type == "int" and not (float(self.low).is_integer() and self.high % 1 == 0):
            raise ConfigError(f"space {self.name}: an int range needs whole bounds")

    def suggest(self, trial: optuna.Trial) -> Choice:
        """This parameter's value for ``trial``."""
        if self.choices is not None:
            return trial.suggest_categorical(self.name, list(self.choices))
        assert self.low is not None and self.high is not None
        if self.type == "int":
            step = int(self.step or 1)
            return trial.suggest_int(
                self.name, int(self.low), int(self.high), step=step, log=self.log
            )
        return trial.suggest_float(self.name, self.low, self.high, step=self.step, log=self.log)

    def bounds(self) -> tuple[Choice, Choice]:
        """The two extreme values (first and last choice of a categorical)."""
        if self.choices is not None:
            return self.choices[0], self.choices[-1]
        assert self.low is not None and self.high is not None
        cast = int if self.type == "int" else float
        return cast(self.low), cast(self.high)


@dataclass(frozen=True)
class SearchSpace:
    """The tuned parameters of one method and protocol, in a fixed order."""

    method: type[Method]
    params: tuple[ParamSpec, ...]

    def names(self) -> list[str]:
        """The parameter names, in order."""
        return [p.name for p in self.params]

    def suggest(self, trial: optuna.Trial) -> dict[str, Choice]:
        """One value per parameter for ``trial``."""
        return {p.name: p.suggest(trial) for p in self.params}

    def corners(self) -> list[dict[str, Choice]]:
        """Every parameter at its low end, then every one at its high end (for checks)."""
        return [{p.name: p.bounds()[end] for p in self.params} for end in (0, 1)]

    def field_values(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Sampled ``values`` as config field values: a number for a list field fills it."""
        return {name: _fill_list(value, self._hint(name)) for name, value in values.items()}

    def as_dict(self) -> dict[str, SpecDict]:
        """The specs as plain data, e.g. to store with the study."""
        return {
            p.name: {k: v for k, v in dataclasses.asdict(p).items() if k != "name"}
            for p in self.params
        }

    def _hint(self, name: str) -> Any:
        root, _, rest = name.partition(".")
        return field_hint(_roots(self.method)[root], rest.split("."), f"{root}.", self.method)


def build_space(
    method: type[Method],
    protocol: Protocol,
    file: str | Path | None = None,
    only: list[str] | None = None,
) -> SearchSpace:
    """The default space of ``method`` and ``protocol``, changed by a space ``file`` and cut
    to the names in ``only``; every name must be a tunable field of the method's configs."""
    specs: dict[str, SpecDict | None] = {}
    if method.needs_pretraining:
        specs.update(COMMON_PRETRAINING)
        specs.update(METHOD_DEFAULTS.get(method.name, {}))
    for name, spec in PROTOCOL_DEFAULTS[protocol].items():
        if method.needs_pretraining or name not in FROM_SCRATCH_ONLY:
            specs[name] = spec
    if file is not None:
        specs.update(_read_space_file(Path(file)))
    chosen = {name: spec for name, spec in specs.items() if spec is not None}
    if only:
        unknown = [name for name in only if name not in chosen]
        if unknown:
            raise ConfigError(
                f"--params {unknown[0]} is not in the search space{_hint(unknown[0], chosen)}; "
                f"it has: {', '.join(chosen) or 'nothing'} (add it with --space FILE)"
            )
        chosen = {name: chosen[name] for name in only}
    if not chosen:
        raise ConfigError(f"the search space of {method.name!r} is empty; add --space FILE")
    params = []
    for name, spec in chosen.items():
        check_param_name(name, method)
        if not isinstance(spec, Mapping):
            raise ConfigError(f"space {name}: expected a mapping such as {{low: .., high: ..}}")
        typed = {"type": _inferred_type(spec), **spec}
        params.append(from_dict(ParamSpec, {"name": name, **typed}, where=f"space {name}"))
    return SearchSpace(method, tuple(params))


def check_param_name(name: str, method: type[Method]) -> None:
    """ConfigError unless ``name`` names a tunable field for ``method``."""
    root, _, rest = name.partition(".")
    if root not in ROOTS or not rest:
        raise ConfigError(
            f"unknown search-space field {name!r}: use train.<field>, method.<field> or "
            "evaluation.<...> (preprocessing and window_s stay fixed; set them with --set)"
        )
    if root == "train" and not method.needs_pretraining:
        raise ConfigError(f"search space {name}: method {method.name!r} has no pretraining")
    if root == "train" and rest in TrainConfig.EXECUTION_FIELDS:
        raise ConfigError(f"search space {name} changes how training runs, not what it learns")
    field_hint(_roots(method)[root], rest.split("."), f"{root}.", method)


def field_hint(cls: type[Any], parts: list[str], where: str, method: type[Method]) -> Any:
    """Type hint of the field ``parts`` inside dataclass ``cls`` (ConfigError if unknown)."""
    fields = {f.name for f in dataclasses.fields(cls) if f.init}
    hints = {key: hint for key, hint in get_type_hints(cls).items() if key in fields}
    name, rest = parts[0], parts[1:]
    if name not in hints:
        raise ConfigError(
            f"unknown search-space field {where}{name} for method {method.name!r}"
            f"{_hint(name, hints)}; known: {', '.join(hints)}"
        )
    hint = hints[name]
    if not rest:
        return hint
    nested = [h for h in (hint, *get_args(hint)) if dataclasses.is_dataclass(h)]
    if not nested:
        raise ConfigError(f"search space: {where}{name} has no field {'.'.join(rest)}")
    return field_hint(nested[0], rest, f"{where}{name}.", method)


def profile_overrides(method: type[Method], values: Mapping[str, Any]) -> dict[str, Any]:
    """Dotted ``values`` (as ``bench pretrain --set`` names them) in the RunConfig
    ``profile_overrides`` layout: ``train.X`` -> ``methods.<M>.train.X`` (above the profile's
    own method section), ``method.X`` -> ``methods.<M>.config.X``; ``evaluation.*``,
    ``preprocessing.*`` and ``window_s`` stay where they are."""
    locations = {
        "train": ["methods", method.name, "train"],
        "method": ["methods", method.name, "config"],
    }
    overrides: dict[str, Any] = {}
    for name, value in values.items():
        root, _, rest = name.partition(".")
        if not ((root in (*ROOTS, "preprocessing") and rest) or name == "window_s"):
            raise ConfigError(
                f"{name}: use train.<field>, method.<field>, evaluation.<...>, "
                "preprocessing.<field> or window_s"
            )
        location = locations.get(root, [root])
        nested: Any = value
        for part in reversed(location + (rest.split(".") if rest else [])):
            nested = {part: nested}
        overrides = deep_merge(overrides, nested)
    return overrides


def flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested ``{"train": {"lr": 1}}`` as dotted ``{"train.lr": 1}``."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _inferred_type(spec: Mapping[str, Any]) -> str:
    """categorical with choices, int when both bounds are whole numbers, else float."""
    if "choices" in spec:
        return "categorical"
    bounds = [spec.get("low"), spec.get("high")]
    whole = all(isinstance(b, int) and not isinstance(b, bool) for b in bounds)
    return "int" if whole else "float"


def _roots(method: type[Method]) -> dict[str, type[Any]]:
    return {"train": TrainConfig, "method": method.config_class, "evaluation": EvaluationConfig}


def _fill_list(value: Any, hint: Any) -> Any:
    """A scalar for a tuple/list field: ``[v]`` for a variable length, ``[v] * n`` for n."""
    options = get_args(hint) if get_origin(hint) in (Union, types.UnionType) else (hint,)
    for option in options:
        if get_origin(option) in (tuple, list) and not isinstance(value, (list, tuple)):
            args = get_args(option)
            fixed = get_origin(option) is tuple and bool(args) and args[-1] is not Ellipsis
            return [value] * len(args) if fixed else [value]
    return value


def _read_space_file(path: Path) -> dict[str, SpecDict | None]:
    if not path.is_file():
        raise ConfigError(f"search-space file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"search-space file {path} is not valid YAML: {error}") from error
    if not isinstance(data, dict):
        raise ConfigError(f"search-space file {path} must map parameter names to specs")
    return {str(name): spec for name, spec in data.items()}


def _hint(name: str, known: Mapping[str, Any]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
