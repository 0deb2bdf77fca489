"""The built-in profiles carry ECG-JEPA's CPU schedule; the method's defaults stay official."""

from __future__ import annotations

from bench.config import to_dict
from bench.grid.profiles import load_profile
from bench.method import MatchedConfig
from methods.jepa import JEPAConfig


def test_smoke_gives_jepa_the_schedule_of_its_readme_learning_curve() -> None:
    smoke = load_profile("smoke")
    setup = smoke.resolve("jepa")
    # README "ECG-JEPA on the subset: does it learn?": 25 epochs at lr 3e-3 (550 steps on the
    # subset) and EMA 0.999 -> 1; 10 epochs at EMA 0.996 stopped inside the early collapse dip.
    assert (setup.train.epochs, setup.train.lr) == (25, 3e-3)
    assert (setup.train.warmup_epochs, setup.train.batch_size) == (1.0, 64)
    assert (setup.train.weight_decay, setup.train.grad_clip) == (0.05, 1.0)
    # Besides the schedule only the teacher's momentum differs from the method's defaults.
    assert setup.method_config == JEPAConfig(ema_start=0.999)
    assert (setup.preprocessing.leads, setup.window_s) == ("12", 2.5)


def test_jepa_matched_baselines_follow_the_same_section() -> None:
    smoke = load_profile("smoke")
    jepa = smoke.resolve("jepa")
    for baseline in ("random_init[jepa]", "supervised[jepa]"):
        setup = smoke.resolve(baseline)
        assert setup.method_config == MatchedConfig("jepa", to_dict(jepa.method_config))
        assert setup.train == jepa.train


def test_the_method_defaults_are_the_reference_codes() -> None:
    config = JEPAConfig()
    assert (config.ema_start, config.ema_end) == (0.996, 1.0)
    assert (config.loss, config.mask_type, config.mask_per) == ("smooth_l1", "multiblock", "batch")
    assert (config.block_ratio, config.mask_blocks) == ((0.175, 0.225), 4)
    assert config.target_drop_path and config.depth_scaled_init
    assert config.collapse_ratio == 0.5
