"""What the synthetic generator makes: the record count, rate, length, seed and noise levels."""

from __future__ import annotations

from dataclasses import dataclass

from bench.config import check_range


@dataclass(frozen=True)
class GeneratorConfig:
    """What to generate: how many records, at which rate and length, with how much noise.

    ``repeat_fraction`` of the patients get two records (sharing their chronic findings), so
    that splitting by patient matters. Noise amplitudes are typical values in mV; each record
    draws its own level around them. ``powerline_mv`` > 0 adds mains interference.
    """

    n_records: int = 3000
    seed: int = 0
    sampling_rate: int = 100
    duration_s: float = 10.0
    repeat_fraction: float = 0.15
    noise_mv: float = 0.02
    baseline_wander_mv: float = 0.1
    powerline_mv: float = 0.0
    powerline_hz: float = 50.0

    def __post_init__(self) -> None:
        check_range("synthetic.n_records", self.n_records, 1)
        check_range("synthetic.seed", self.seed, 0)
        check_range("synthetic.sampling_rate", self.sampling_rate, 50, 10_000)
        check_range("synthetic.duration_s", self.duration_s, 1.0, 600.0)
        check_range("synthetic.repeat_fraction", self.repeat_fraction, 0.0, 1.0)
        check_range("synthetic.noise_mv", self.noise_mv, 0.0, 10.0)
        check_range("synthetic.baseline_wander_mv", self.baseline_wander_mv, 0.0, 10.0)
        check_range("synthetic.powerline_mv", self.powerline_mv, 0.0, 10.0)
        check_range("synthetic.powerline_hz", self.powerline_hz, 1.0, 1000.0)

    @property
    def n_samples(self) -> int:
        """Samples per lead."""
        return round(self.duration_s * self.sampling_rate)
