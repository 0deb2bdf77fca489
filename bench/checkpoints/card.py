"""What a published checkpoint is: its card (provenance, licence, corpus) and official input."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bench.data.preprocess import LEAD_SETS, Preprocessing


@dataclass(frozen=True)
class OfficialInput:
    """The input the model's official code feeds it, as that code prepares it.

    ``rate`` (Hz) reached by ``resample`` ("poly": polyphase; "fft": Fourier, as
    ``scipy.signal.resample``; "linear": interpolation); ``leads``: canonical lead names in
    the model's order;
    ``samples``: the window the network takes; ``crop``: how a longer record is cut
    ("start": its first ``samples``); ``bandpass``: the official filter (Hz) or None and
    ``scaling``: the amplitude step in words (the adapter's ``preprocess`` and
    ``official_window`` do them); ``grid_rate``: the rate of the windows the grid hands
    ``official_window`` when the official window is cut at another rate than the network's;
    ``units``: what the model expects the raw values in (``mV``); ``record_zscore``: the
    official code z-scores each lead over the whole record (at ``rate``) before cutting its
    window, so the grid's cache does the same (``Preprocessing.normalize`` "record") instead of
    leaving it to ``official_window``.
    """

    rate: int
    leads: tuple[str, ...]
    samples: int
    resample: Literal["poly", "fft", "linear"] = "poly"
    crop: Literal["start"] = "start"
    bandpass: tuple[float, float] | None = None
    scaling: str = "none"
    units: str = "mV"
    grid_rate: int | None = None
    record_zscore: bool = False

    def __post_init__(self) -> None:
        if self.grid_rate is not None and (self.grid_rate * self.samples) % self.rate:
            raise ValueError(f"grid_rate {self.grid_rate} gives no whole number of samples")

    @property
    def window_rate(self) -> int:
        """The rate of the grid's windows: ``grid_rate`` where the official code takes its
        window at another rate than the network's (HuBERT-ECG: 500 Hz, decimated to 100)."""
        return self.grid_rate or self.rate

    @property
    def window_samples(self) -> int:
        """Samples of one grid window (at ``window_rate``)."""
        return self.samples * self.window_rate // self.rate

    @property
    def window_s(self) -> float:
        """The window in seconds."""
        return self.samples / self.rate

    @property
    def lead_set(self) -> Literal["12", "8", "1"]:
        """The smallest of the grid's lead sets that holds the model's leads."""
        holding = [key for key, names in LEAD_SETS.items() if set(self.leads) <= set(names)]
        return min(holding, key=lambda key: len(LEAD_SETS[key]))  # type: ignore[return-value]

    @property
    def grid_leads(self) -> tuple[str, ...]:
        """The leads of the grid's windows, in the canonical order."""
        return LEAD_SETS[self.lead_set]

    def preprocessing(self) -> Preprocessing:
        """The dataset-level part the grid's cache applies: the rate reached the official way,
        the lead set and a record-level z-score where the official code takes one (other
        filters and scaling are per window, ``official_window``)."""
        return Preprocessing(
            rate=self.window_rate,
            resample=self.resample,
            leads=self.lead_set,
            normalize="record" if self.record_zscore else "none",
        )

    def describe(self) -> str:
        """One line: "12 leads, 500 Hz (poly), 10 s, per-lead z-score"."""
        filters = (
            f", band-pass {self.bandpass[0]:g}-{self.bandpass[1]:g} Hz" if self.bandpass else ""
        )
        return (
            f"{len(self.leads)} lead{'s' if len(self.leads) > 1 else ''} ({' '.join(self.leads)}), "
            f"{self.rate} Hz ({self.resample}), {self.window_s:g} s"
            f"{filters}, {self.scaling}"
        )


@dataclass(frozen=True)
class ModelCard:
    """Provenance of a published model, shown by ``bench checkpoints`` and stored with results.

    ``file_name``: the official weights file's name (looked up in ``$BENCH_WEIGHTS_DIR``);
    ``url``: where a user downloads it; ``hf_repo``/``hf_filename``: set for files on the
    Hugging Face hub (``bench checkpoints fetch``); ``corpus``: datasets seen in pretraining
    (``bench.checkpoints.leakage`` names); ``labelled``: datasets whose labels it was trained on.
    """

    title: str
    paper: str
    code: str
    licence: str
    architecture: str
    file_name: str
    url: str
    corpus: tuple[str, ...]
    labelled: tuple[str, ...] = ()
    hf_repo: str | None = None
    hf_filename: str | None = None
