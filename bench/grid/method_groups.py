"""Method names a run is given, expanded: the groups (``all``, ``comparators``,
``checkpoints``) and the matched baselines (``random_init[cpc]``). Apart from the plan so that
``bench list methods`` names them without importing the evaluation stage (scikit-learn)."""

from __future__ import annotations

from bench.errors import ConfigError
from bench.method import METHOD_GROUPS, METHODS, method_group
from bench.method_names import matched_name, split_matched


def expand_methods(names: tuple[str, ...]) -> list[str]:
    """Method names with the groups expanded, order kept.

    'all' is the project brief's methods and the baselines (every registered method whose
    ``Method.group`` is "all": published checkpoints and the comparators are left out), then
    the matched baselines of every SSL method among them (each baseline that
    ``builds_on_backbones`` on each method that needs pretraining, e.g. ``random_init[cpc]``,
    ``supervised[cpc]``); 'comparators' is the field's standard SSL comparators (SimCLR,
    BYOL, CLOCS, 3KG, ST-MEM, wav2vec 2.0) with their matched baselines; 'checkpoints' is
    every published checkpoint with its matched baselines. A matched name may also be given
    on its own.
    """
    expanded: list[str] = []
    for name in names:
        members = group_members(name) if name in METHOD_GROUPS else [_checked_name(name)]
        expanded.extend(m for m in members if m not in expanded)
    return expanded


def group_members(group: str) -> list[str]:
    """The methods of ``group`` (one of ``METHOD_GROUPS``), then their matched baselines."""
    registered = METHODS.names()
    members = [m for m in registered if method_group(METHODS.get(m)) == group]
    backbones = [m for m in members if METHODS.get(m).has_own_network()]
    baselines = [m for m in registered if METHODS.get(m).builds_on_backbones]
    return members + [matched_name(b, m) for m in backbones for b in baselines]


def _checked_name(name: str) -> str:
    """The registered name of ``name`` (a matched name's parts checked)."""
    baseline, backbone = split_matched(name)
    if backbone is None:
        return METHODS.get(name).name
    baseline_class, backbone_class = METHODS.get(baseline), METHODS.get(backbone)
    if not baseline_class.builds_on_backbones or not backbone_class.has_own_network():
        raise ConfigError(
            f"{name!r}: a matched baseline is random_init[...] or supervised[...] around an SSL "
            "method (one that needs pretraining) or a published checkpoint"
        )
    return matched_name(baseline_class.name, backbone_class.name)
