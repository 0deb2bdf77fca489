"""What identifies a pretraining: the setup a profile decides, the spec that is hashed, its key.

The key is ``bench.hashing.stable_hash`` of the spec's document, so the same inputs give the
same key on every machine. Anything that changes what is learned belongs in the document;
things that only change how it runs (device, torch.compile, checkpoint interval) do not, so
a run moved between machines keeps its key.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bench.config import to_dict
from bench.data.preprocess import Preprocessing
from bench.encoders.base import InputSpec
from bench.hashing import MAJOR_VERSION, stable_hash
from bench.method import Method
from bench.training.config import TrainConfig


@dataclass(frozen=True)
class PretrainSetup:
    """Everything a profile decides for one method's pretraining."""

    method: type[Method]
    method_config: Any
    train: TrainConfig
    preprocessing: Preprocessing
    window_s: float


@dataclass(frozen=True)
class PretrainSpec:
    """What decides a pretraining's outcome.

    The method config carries the encoder config (an encoder is part of its method). The data
    are the dataset's training folds (pretraining never sees folds 9 and 10), identified by
    the dataset name and its fingerprint (content and preprocessing); ``train`` holds the seed.
    With ``corpus`` (``bench.data.corpus.select``: datasets, their fingerprints, filters,
    caps, exclusions, subset size) the data are that corpus instead, ``dataset`` its name;
    without it the document is what it was before corpora existed, so keys stay.
    """

    method: str
    method_config: Any
    dataset: str
    data_fingerprint: str
    preprocessing: Preprocessing
    input_spec: InputSpec
    window_s: float
    train: TrainConfig
    corpus: Mapping[str, Any] | None = None

    def document(self) -> dict[str, Any]:
        """The spec as plain data: what ``pretrain_key`` hashes, worth storing beside results."""
        data: dict[str, Any] = {"dataset": self.dataset, "fingerprint": self.data_fingerprint}
        if self.corpus is not None:
            data["corpus"] = dict(self.corpus)
        return {
            "kind": "pretrain",
            "major_version": MAJOR_VERSION,
            "method": self.method,
            "method_config": to_dict(self.method_config),
            "data": data,
            "split": "train" if self.corpus is None else "corpus",
            "preprocessing": to_dict(self.preprocessing),
            "input": {"window_s": self.window_s, **dataclasses.asdict(self.input_spec)},
            "train": self.train.learning_dict(),
        }


def pretrain_key(spec: PretrainSpec) -> str:
    """Key of one pretraining: method, its config (encoder included), data and fingerprint,
    preprocessing, input window, training schedule and seed, and the major version."""
    return stable_hash(spec.document())
