"""What a published checkpoint is: its card (provenance, licence, corpus) and official input."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bench.data.preprocess import LEAD_SETS, Preprocessing
from bench.errors import ConfigError


@dataclass(frozen=True)
class OfficialInput:
    """The input the model's official code feeds it, as that code prepares it.

    ``rate`` (Hz) reached by ``resample`` ("poly": polyphase; "fft": Fourier, as
    ``scipy.signal.resample``); ``leads``: canonical lead names in the model's order;
    ``samples``: the window the network takes; ``crop``: how a longer record is cut
    ("start": its first ``samples``); ``bandpass``: the official filter (Hz) or None;
    ``normalize``: "record" where the official code z-scores each lead of each record, the
    grid's nearest equivalent of ``scaling``, the amplitude step in words (the adapter's
    ``preprocess`` does exactly the official one);
    ``units``: what the model expects the raw values in (``mV``).
    """

    rate: int
    leads: tuple[str, ...]
    samples: int
    resample: Literal["poly", "fft"] = "poly"
    crop: Literal["start"] = "start"
    bandpass: tuple[float, float] | None = None
    normalize: Literal["none", "record"] = "none"
    scaling: str = "none"
    units: str = "mV"

    @property
    def window_s(self) -> float:
        """The window in seconds."""
        return self.samples / self.rate

    def preprocessing(self) -> Preprocessing:
        """The dataset-level part the grid's cache applies (rate, resampling, leads, filter);
        ConfigError when ``leads`` is not one of the grid's lead sets in its order."""
        lead_set = next((key for key, names in LEAD_SETS.items() if names == self.leads), None)
        if lead_set is None:
            known = "; ".join(f"{key}: {', '.join(names)}" for key, names in LEAD_SETS.items())
            raise ConfigError(
                f"official input leads {', '.join(self.leads)} are not a lead set the grid "
                f"caches, in its order ({known}): give the model its input in one of these "
                "orders (e.g. re-order its first layer's input channels in convert)"
            )
        return Preprocessing(
            rate=self.rate, resample=self.resample, leads=lead_set, bandpass=self.bandpass,
            normalize=self.normalize,
        )  # fmt: skip

    def describe(self) -> str:
        """One line: "12 leads, 500 Hz (poly), 10 s, per-lead z-score"."""
        filters = (
            f", band-pass {self.bandpass[0]:g}-{self.bandpass[1]:g} Hz" if self.bandpass else ""
        )
        return (
            f"{len(self.leads)} leads, {self.rate} Hz ({self.resample}), {self.window_s:g} s"
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
