"""ECG-JEPA through sparse CroPA (and oneDNN linears): the same loss and gradients as dense;
no padding per batch."""

from __future__ import annotations

import pytest
import torch

import methods.jepa as jepa_module
from bench.encoders.onednn_linear import set_linear_backend
from bench.encoders.patch_transformer import set_attention_path
from methods.jepa_masking import TimeMask, bucket_rows
from tests.doubles.jepa import CPU, build, ecg

pytestmark = pytest.mark.numeric


def loss_and_grads(
    path: str, linear: str = "aten", **config: object
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    method = build(**config)
    set_attention_path(method, path)  # type: ignore[arg-type]
    set_linear_backend(method, linear)  # type: ignore[arg-type]
    torch.manual_seed(5)  # the same mask (and drop-path draws) on both paths
    loss = method.loss(ecg(batch=6))["loss"]
    loss.backward()
    grads = {n: p.grad for n, p in method.named_parameters() if p.grad is not None}
    return loss.detach(), grads


@pytest.mark.parametrize(
    "config",
    [{}, {"mask_per": "sample"}, {"mask_type": "random", "mask_per": "sample"}, {"drop_path": 0.1}],
)
def test_sparse_loss_and_gradients_equal_dense(config: dict[str, object]) -> None:
    dense, dense_grads = loss_and_grads("dense", **config)
    sparse, sparse_grads = loss_and_grads("sparse", **config)
    torch.testing.assert_close(sparse, dense, atol=1e-5, rtol=1e-5)
    assert sparse_grads.keys() == dense_grads.keys() and dense_grads
    for name, grad in dense_grads.items():
        torch.testing.assert_close(sparse_grads[name], grad, atol=1e-5, rtol=1e-5, msg=name)


@pytest.mark.skipif(not torch.backends.mkldnn.is_available(), reason="no oneDNN")
@pytest.mark.parametrize("config", [{}, {"mask_per": "sample"}])
def test_onednn_linears_give_the_same_loss_and_gradients(config: dict[str, object]) -> None:
    reference, reference_grads = loss_and_grads("dense", **config)
    fast, fast_grads = loss_and_grads("auto", "onednn", **config)
    torch.testing.assert_close(fast, reference, atol=1e-5, rtol=1e-5)
    assert fast_grads.keys() == reference_grads.keys() and reference_grads
    for name, grad in reference_grads.items():
        torch.testing.assert_close(fast_grads[name], grad, atol=1e-5, rtol=1e-5, msg=name)


def test_one_mask_per_batch_takes_no_padding_path() -> None:
    method = build()
    torch.manual_seed(2)
    mask = method.draw_mask(8, CPU)
    assert not mask.padded and bool(mask.valid.all())
    assert mask.visible.shape[1] == int((~mask.masked[0]).sum())


def test_per_sample_multiblock_masks_are_padded() -> None:
    masked = torch.zeros(2, 10, dtype=torch.bool)
    masked[0, :3] = True
    masked[1, :6] = True
    mask = TimeMask.from_masked(masked)
    assert mask.padded and mask.visible.shape == (2, 7) and mask.valid.sum().item() == 7 + 4


@pytest.mark.parametrize(
    ("counts", "most", "groups"),
    [
        ([5, 1, 4, 1], 2, [[1, 3], [2, 0]]),
        ([3, 3, 3], 3, [[0, 1, 2]]),
        ([1, 9, 2, 8], 1, [[0, 2, 3, 1]]),
        ([2, 7], 5, [[0], [1]]),
    ],
)
def test_buckets_cut_the_fewest_padding_slots(
    counts: list[int], most: int, groups: list[list[int]]
) -> None:
    assert bucket_rows(counts, most) == groups


def test_bucketed_context_equals_one_padded_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    method = build(mask_per="sample")
    torch.manual_seed(3)
    mask = method.draw_mask(6, CPU)
    assert mask.padded
    x = ecg(batch=6)
    bucketed = method.context_tokens(x, mask)
    monkeypatch.setattr(jepa_module, "CONTEXT_BUCKETS", 1)
    padded = method.context_tokens(x, mask)
    real = mask.valid.view(6, 1, -1, 1)
    torch.testing.assert_close(bucketed * real, padded * real, atol=1e-5, rtol=1e-5)
    assert bool(bucketed.isfinite().all())  # filler slots: meaningless but finite
