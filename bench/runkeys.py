"""Run keys: short stable hashes naming a unit of work, so nothing is computed twice.

A key is the first 12 hex digits of the SHA-256 of a canonical JSON document (sorted keys, no
whitespace, plain data only), so the same inputs give the same key in every process, on every
machine and across Python versions. Anything that changes what is learned belongs in the
document; things that only change how it runs (device, torch.compile, checkpoint interval)
do not, so a run moved between machines keeps its key.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from bench import __version__
from bench.config import to_dict
from bench.data.preprocess import Preprocessing
from bench.encoders.base import InputSpec
from bench.train_config import TrainConfig

KEY_LENGTH = 12
MAJOR_VERSION = __version__.split(".")[0]
"""Bumping the package's major version invalidates every stored key on purpose."""


def stable_hash(document: Any) -> str:
    """First ``KEY_LENGTH`` hex digits of the SHA-256 of ``document`` as canonical JSON."""
    blob = json.dumps(document, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:KEY_LENGTH]


@dataclass(frozen=True)
class PretrainSpec:
    """What decides a pretraining's outcome.

    The method config carries the encoder config (an encoder is part of its method). The data
    are the dataset's training folds (pretraining never sees folds 9 and 10), identified by
    the dataset name and its fingerprint (content and preprocessing); ``train`` holds the seed.
    """

    method: str
    method_config: Any
    dataset: str
    data_fingerprint: str
    preprocessing: Preprocessing
    input_spec: InputSpec
    window_s: float
    train: TrainConfig

    def document(self) -> dict[str, Any]:
        """The spec as plain data: what ``pretrain_key`` hashes, worth storing beside results."""
        return {
            "kind": "pretrain",
            "major_version": MAJOR_VERSION,
            "method": self.method,
            "method_config": to_dict(self.method_config),
            "data": {"dataset": self.dataset, "fingerprint": self.data_fingerprint},
            "split": "train",
            "preprocessing": to_dict(self.preprocessing),
            "input": {"window_s": self.window_s, **dataclasses.asdict(self.input_spec)},
            "train": self.train.learning_dict(),
        }


def pretrain_key(spec: PretrainSpec) -> str:
    """Key of one pretraining: method, its config (encoder included), data and fingerprint,
    preprocessing, input window, training schedule and seed, and the major version."""
    return stable_hash(spec.document())
