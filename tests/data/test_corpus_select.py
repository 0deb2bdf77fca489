"""Leakage exclusion, duplicates, source filters, caps and nested subsets of a corpus."""

from __future__ import annotations

import numpy as np
import pytest

from bench.data.corpus.naming import parse_corpus
from bench.data.corpus.resolve import report_lines, resolve_corpus
from bench.data.corpus.select import nested_subset, protected_records
from bench.data.corpus.spec import CorpusPart, CorpusSpec
from bench.data.formats.ragged import Ragged
from bench.data.signals import SignalSet
from bench.errors import ConfigError, DataError
from tests.data.corpus_fixtures import generated, planted, task_dataset, with_sources

SPEC = parse_corpus("corpus-a+corpus-b")


@pytest.fixture(scope="module")
def task() -> SignalSet:
    return task_dataset()


def test_copies_of_test_records_and_duplicates_are_excluded_and_counted(task) -> None:
    a, b = planted(task)
    corpus = resolve_corpus(SPEC, [a, b], protected_records([task]))
    report = corpus.report()
    assert report["excluded"] == {"id": 1, "fingerprint": 5, "duplicate": 2}
    first, second = report["datasets"]
    assert (first["excluded"], first["used"]) == ({"id": 1, "fingerprint": 5, "duplicate": 0}, 114)
    assert (second["excluded"], second["used"]) == ({"id": 0, "fingerprint": 0, "duplicate": 2}, 78)
    assert report["records"] == len(corpus.records) == 192
    # none of the kept records is one of the task's val/test ECGs, none appears twice
    kept = np.stack(list(corpus.records))
    held_out = np.asarray(task.signals)[
        np.concatenate([task.split_indices(s) for s in ("val", "test")])
    ]
    assert not any(np.array_equal(record, other) for record in kept[:20] for other in held_out)
    assert len({record.tobytes() for record in kept}) == len(kept)
    assert not {0, 1, 2, 3, 4, 5} & set(corpus.records.index[corpus.records.index[:, 0] == 0, 1])
    assert report["hours"] == pytest.approx(192 * 10 / 3600, abs=1e-3)
    text = "\n".join(report_lines(report))
    assert "excluded: 1 by id, 5 by fingerprint, 2 duplicates" in text
    assert "corpus-b:1 = corpus-a:11 (duplicate)" in text


def test_training_folds_of_the_task_dataset_may_be_pretrained_on(task) -> None:
    corpus = resolve_corpus(
        CorpusSpec("own", (CorpusPart("synthetic"),)), [task], protected_records([task])
    )
    train = task.split_indices("train")
    assert corpus.report()["excluded"]["id"] == len(task.meta) - len(train)
    assert np.array_equal(corpus.records.index[:, 1], train)


def test_the_key_document_names_data_exclusions_and_size(task) -> None:
    a, b = planted(task)
    free = resolve_corpus(SPEC, [a, b], protected_records([]))
    guarded = resolve_corpus(SPEC, [a, b], protected_records([task]))
    subset = resolve_corpus(SPEC, [a, b], protected_records([task]), 50)
    assert free.report()["excluded"] == {"id": 0, "fingerprint": 0, "duplicate": 2}
    assert len({free.fingerprint, guarded.fingerprint, subset.fingerprint}) == 3
    document = guarded.document
    assert [d["fingerprint"] for d in document["datasets"]] == [a.fingerprint, b.fingerprint]
    assert document["exclude"]["against"] == [
        {"dataset": "synthetic", "fingerprint": task.fingerprint}
    ]
    assert (document["records"], subset.document["records"]) == ("all", 50)
    again = resolve_corpus(SPEC, [a, b], protected_records([task]))
    assert again.fingerprint == guarded.fingerprint


def test_nested_subsets_grow_inside_each_other(task) -> None:
    a, b = planted(task)
    protected = protected_records([task])
    rows = [
        {tuple(pair) for pair in resolve_corpus(SPEC, [a, b], protected, size).records.index}
        for size in (20, 60, 150, "all")
    ]
    assert [len(r) for r in rows] == [20, 60, 150, 192]
    assert rows[0] < rows[1] < rows[2] < rows[3]
    assert not np.array_equal(nested_subset(192, 20, 0), nested_subset(192, 20, 1))
    with pytest.raises(ConfigError, match="exceeds the 192 records"):
        resolve_corpus(SPEC, [a, b], protected, 500)


def test_source_filters_and_caps(task) -> None:
    data = with_sources(generated("pool", 90, 3), ["chapman", "ningbo", "georgia"])
    spec = CorpusSpec("pool", (CorpusPart("pool", ("chapman", "ningbo"), 40),), seed=2)
    corpus = resolve_corpus(spec, [data], protected_records([]))
    part = corpus.report()["datasets"][0]
    assert (part["filtered"], part["capped"], part["used"]) == (30, 20, 40)
    sources = set(data.meta["source"].iloc[corpus.records.index[:, 1]])
    assert sources == {"chapman", "ningbo"}
    other_seed = resolve_corpus(
        CorpusSpec("pool", spec.parts, seed=3), [data], protected_records([])
    )
    assert not np.array_equal(corpus.records.index, other_seed.records.index)
    with pytest.raises(DataError, match=r"no records of source\(s\) \['ptb'\]"):
        resolve_corpus(
            CorpusSpec("p", (CorpusPart("pool", ("ptb",)),)), [data], protected_records([])
        )
    with pytest.raises(DataError, match="no sources to filter by"):
        resolve_corpus(
            CorpusSpec("p", (CorpusPart("x", ("ptb",)),)),
            [generated("x", 5, 1)],
            protected_records([]),
        )


def test_records_of_differing_lengths_become_ragged(task) -> None:
    rng = np.random.default_rng(0)
    a = generated("a", 4, 1)
    records = [rng.normal(size=(12, n)).astype(np.float32) for n in (300, 500, 700)]
    meta = a.meta.iloc[:3].reset_index(drop=True)
    meta["global_id"] = ["b:1", "b:2", "b:3"]
    b = SignalSet("b", Ragged.from_records(records, 12), meta, 100, a.lead_names, "b")
    corpus = resolve_corpus(
        CorpusSpec("ab", (CorpusPart("a"), CorpusPart("b"))), [a, b], protected_records([])
    )
    signals = corpus.records.training_signals()
    assert isinstance(signals, Ragged)
    assert list(signals.lengths) == [1000] * 4 + [300, 500, 700]
    assert np.array_equal(signals.record(5), records[1])
    assert corpus.records.nbytes == (4000 + 1500) * 12 * 4


def test_one_rate_and_lead_set_for_the_whole_corpus() -> None:
    a = generated("a", 4, 1)
    b = SignalSet(
        "b", np.zeros((2, 8, 1000), np.float32), a.meta.iloc[:2], 100, a.lead_names[:8], "b"
    )
    with pytest.raises(ConfigError, match="one preprocessing"):
        resolve_corpus(
            CorpusSpec("ab", (CorpusPart("a"), CorpusPart("b"))), [a, b], protected_records([])
        )
