"""Profiles: the built-ins load with the documented values; bad files fail clearly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench.errors import ConfigError, UnknownNameError
from bench.grid.profiles import builtin_profiles, load_profile
from bench.method import METHODS


def write(tmp_path: Path, text: str, name: str = "mine.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_builtin_profiles_hold_the_documented_setups() -> None:
    assert builtin_profiles() == ["paper", "smoke"]
    smoke = load_profile("smoke")
    assert (smoke.preprocessing.rate, smoke.preprocessing.leads, smoke.window_s) == (100, "12", 2.5)
    assert smoke.train.epochs <= 10
    paper = load_profile("paper")
    assert paper.preprocessing.rate == 250 and paper.preprocessing.resample == "fft"
    assert paper.preprocessing.leads == "8" and paper.window_s == 10.0
    assert (paper.train.epochs, paper.train.warmup_epochs, paper.train.weight_decay) == (
        100,
        5.0,
        0.05,
    )
    assert paper.train.lr == 5e-5 and paper.train.batch_size == 64


def test_shipped_method_sections_fit_the_registered_methods() -> None:
    checked = 0
    for name in builtin_profiles():
        profile = load_profile(name)
        for method in profile.methods:
            if method in METHODS:  # sections of methods not yet written are checked later
                setup = profile.resolve(method)
                assert setup.method.name == method
                checked += 1
    if not checked:
        pytest.skip("no method of the shipped profile sections is registered yet")


def test_a_yaml_file_of_the_same_schema_loads(tmp_path: Path, toys: Any) -> None:
    path = write(
        tmp_path,
        """
description: mine
preprocessing: {rate: 50, leads: "8"}
window_s: 2
train: {epochs: 3, lr: 1.0e-3, warmup_epochs: 1}
methods:
  toy_masked:
    config: {hidden: 8}
    train: {lr: 2.0e-3, batch_size: 16}
""",
    )
    profile = load_profile(str(path))
    assert profile.name == "mine" and profile.window_s == 2.0
    setup = profile.resolve(
        "toy_masked", {"train": {"seed": 4}, "method": {"mask_ratio": 0.2}, "window_s": 1.5}
    )
    assert setup.method is toys.method
    assert setup.method_config == toys.config(hidden=8, mask_ratio=0.2)
    assert (setup.train.lr, setup.train.batch_size, setup.train.epochs) == (2e-3, 16, 3)
    assert setup.train.seed == 4 and setup.window_s == 1.5
    assert setup.preprocessing.rate == 50 and setup.preprocessing.leads == "8"
    command_line = profile.resolve("toy_masked", {"train": {"lr": 5e-4}})
    assert command_line.train.lr == 5e-4  # the command line beats the method section


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("train: [1, 2", "is not valid YAML"),
        ("- a\n- b", "must be a mapping of fields"),
        ("trian: {epochs: 2}", r"unknown field profile.trian \(did you mean 'train'\?\)"),
        ("train: {epochs: two}", "profile.train.epochs must be int"),
        ("train: {lr: -1}", "train.lr = -1.0 is out of range"),
        ("preprocessing: {rate: 0}", "preprocessing.rate = 0 is out of range"),
        ("preprocessing: {leads: '6'}", "preprocessing.leads = '6' is not one of"),
        ("window_s: 0", "profile.window_s = 0.0 is out of range"),
        ("methods: {jepa: {confg: {}}}", "unknown field profile.methods.jepa.confg"),
        ("methods: {jepa: [1]}", "profile.methods.jepa must be a mapping"),
        ("methods: {jepa: {train: {lr: fast}}}", r"methods.jepa.train.lr must be float"),
        ("methods: {jepa: {train: {epoch: 3}}}", r"unknown field .*did you mean 'epochs'"),
    ],
)
def test_bad_profile_files_fail_clearly(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as error:
        load_profile(path)
    assert str(path) in str(error.value)  # the message names the file


def test_unknown_profile_name_and_missing_file() -> None:
    with pytest.raises(ConfigError, match=r"unknown profile 'smok' \(did you mean 'smoke'\?\)"):
        load_profile("smok")
    with pytest.raises(ConfigError, match=r"profile file not found: .*nowhere\.yaml"):
        load_profile("/nowhere.yaml")


def test_sections_and_overrides_are_checked_when_resolving(tmp_path: Path, toys: Any) -> None:
    typo = load_profile(write(tmp_path, "methods: {toy_maskd: {config: {hidden: 4}}}"))
    with pytest.raises(ConfigError, match=r"methods.toy_maskd names no .*'toy_masked'"):
        typo.resolve("toy_masked")
    profile = load_profile(write(tmp_path, "methods: {toy_masked: {config: {hiden: 4}}}", "b.yaml"))
    with pytest.raises(ConfigError, match=r"unknown field .*hiden \(did you mean 'hidden'\?\)"):
        profile.resolve("toy_masked")
    with pytest.raises(ConfigError, match=r"toy\.mask_ratio = 2\.0 is out of range"):
        load_profile("smoke").resolve("toy_masked", {"method": {"mask_ratio": 2.0}})
    with pytest.raises(ConfigError, match="unknown override 'lr'"):
        load_profile("smoke").resolve("toy_masked", {"lr": 1.0})
    with pytest.raises(UnknownNameError, match="unknown method 'nope'"):
        load_profile("smoke").resolve("nope")
