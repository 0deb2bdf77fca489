"""The attentive probe: learnable queries over token sets read what mean pooling cannot."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from bench.evaluation.attentive import (
    AttentiveConfig,
    AttentivePooler,
    _train,
    attentive_probe,
    predict,
)
from bench.evaluation.objectives import Objective
from bench.evaluation.probe import LinearProbeConfig, linear_probe
from bench.evaluation.tokens import RecordTokens

DIM = 8
CPU = torch.device("cpu")


def mirrored_tokens(n: int, seed: int) -> tuple[RecordTokens, np.ndarray]:
    """Records of two tokens ``t`` and ``-t``: every record's token mean is exactly zero. The
    class is the axis ``t`` lies along (0 or 1, with a random sign and length, plus noise), so
    mean pooling sees the same all-zero vector for every record, while attention can pick the
    token pointing its way and read the axis."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    t = 0.1 * rng.normal(size=(n, DIM))
    t[np.arange(n), labels] += rng.choice([-1.0, 1.0], n) * rng.uniform(1.0, 2.0, n)
    values = np.stack([t, -t], axis=1).reshape(2 * n, DIM).astype(np.float16)
    tokens = RecordTokens(values, 2 * np.arange(n), np.full(n, 2))
    return tokens, np.stack([labels, 1 - labels], axis=1).astype(np.float32)  # multi-label


def test_attention_separates_what_mean_pooling_cannot() -> None:
    train, val, test = (mirrored_tokens(n, seed) for n, seed in ((400, 0), (200, 1), (200, 2)))
    mean_pooled = [
        np.asarray(t.values, np.float32).reshape(-1, 2, DIM).mean(1) for t, _ in (train, val, test)
    ]
    assert np.abs(np.concatenate(mean_pooled)).max() < 1e-3  # identical for every class
    linear = linear_probe(
        (mean_pooled[0], train[1]), (mean_pooled[1], val[1]), mean_pooled[2], LinearProbeConfig()
    )
    assert roc_auc_score(test[1][:, 0], linear.test_scores[:, 0]) == pytest.approx(0.5, abs=0.05)
    config = AttentiveConfig(queries=(1,), lrs=(1e-2,), weight_decays=(0.0,), epochs=(10, 40))
    found = attentive_probe(train, val, test[0], config, Objective(), CPU, seed=0)
    assert roc_auc_score(test[1][:, 0], found.test_scores[:, 0]) > 0.95
    assert found.details["best"]["epochs"] in (10, 40)


def test_an_epoch_count_of_the_grid_is_the_run_of_that_length() -> None:
    """The learning rate is constant after warm-up, so stopping at 3 of (3, 6) epochs leaves the
    state a 3-epoch run ends with: one run serves every epoch count."""
    tokens, labels = mirrored_tokens(100, 3)
    fit = (tokens, torch.as_tensor(labels), Objective(), 1e-2, 0.05)
    states = []
    for epochs in ((3,), (3, 6)):
        torch.manual_seed(0)
        head = AttentivePooler(DIM, 2, 2, heads=2)
        config = AttentiveConfig(queries=(2,), epochs=epochs, batch_size=16)
        steps = _train(head, fit, config, CPU, seed=0)
        assert next(steps) == 3
        states.append({k: v.clone() for k, v in head.state_dict().items()})
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])
    with torch.no_grad():  # scoring standardises with the whole training set's statistics
        pooled = head.pool(*tokens.batch(np.arange(len(tokens)), CPU))
    torch.testing.assert_close(head.standardise.running_mean, pooled.mean(0))
    torch.testing.assert_close(head.standardise.running_var, pooled.var(0, unbiased=False))


def test_records_of_differing_token_counts_are_padded_and_masked() -> None:
    rng = np.random.default_rng(4)
    lengths = np.array([3, 7, 5, 1])
    values = rng.normal(size=(lengths.sum(), DIM)).astype(np.float16)
    tokens = RecordTokens(values, np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    batch, padding = tokens.batch(np.arange(4), CPU)
    assert batch.shape == (4, 7, DIM) and padding is not None and int(padding.sum()) == 28 - 16
    torch.manual_seed(0)
    head = AttentivePooler(DIM, 2, 3, heads=4)
    together = predict(head, tokens, Objective(), CPU, batch_size=4)
    alone = np.concatenate([predict(head, tokens[[i]], Objective(), CPU, 1) for i in range(4)])
    np.testing.assert_allclose(together, alone, atol=1e-5)
