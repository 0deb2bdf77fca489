"""A corpus over several sharded datasets reaches the pretraining loop as one on-disk view."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.data.corpus.records import CorpusRecords
from bench.data.formats.shards import ShardedRecords, write_records


def test_a_union_of_sharded_datasets_stays_sharded_in_corpus_order(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    first = [rng.normal(size=(2, n)).astype(np.float32) for n in (30, 40, 50)]
    second = [rng.normal(size=(2, n)).astype(np.float32) for n in (60, 70)]
    a = write_records(tmp_path / "a", first, shard_records=2)
    b = write_records(tmp_path / "b", second, shard_records=1)
    index = np.array([[1, 1], [0, 2], [0, 0], [1, 0]])  # interleaved, one record left out
    corpus = CorpusRecords((a, b), index, n_leads=2, sampling_rate=100)
    signals = corpus.training_signals()
    assert isinstance(signals, ShardedRecords)
    assert list(signals.lengths) == [70, 50, 30, 60]
    for i, (part, row) in enumerate(index):
        np.testing.assert_array_equal(signals[i], (a, b)[part][row])
        np.testing.assert_array_equal(signals[i], corpus[i])
