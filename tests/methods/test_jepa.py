"""ECG-JEPA: masks shared by the leads, EMA target, visible-only context, per-lead predictor."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor

from bench.config import from_dict
from bench.errors import ConfigError
from bench.method import METHODS
from bench.training.checkpoint import load_encoder, load_method
from bench.training.loop import TrainConfig, pretrain
from bench.training.optim import build_optimizer
from methods.jepa import JEPA, JEPAConfig, context_spread
from methods.jepa_masking import (
    PAD_ID,
    TimeMask,
    block_union,
    draw_blocks,
    multiblock_mask,
    random_mask,
)
from tests.doubles.jepa import CPU, PATCH, SPEC, P, build, ecg

pytestmark = pytest.mark.numeric


def train_steps(method: JEPA, x: Tensor, steps: int, lr: float = 1e-3) -> list[float]:
    optimizer = build_optimizer(method, lr, 0.0, (0.9, 0.999), CPU)
    losses = []
    for step in range(1, steps + 1):
        optimizer.zero_grad()
        loss = method.loss(x)["loss"]
        loss.backward()
        optimizer.step()
        method.on_step_end(step, steps)
        losses.append(float(loss.detach()))
    return losses


# --- common method tests -------------------------------------------------------------------


def test_registered_with_context_encoder_downstream() -> None:
    assert METHODS.get("jepa") is JEPA
    method = build()
    assert method.encoder is not method.target_encoder
    assert method.encoder.config.attention == "cropa" and method.encoder.config.pos_every_block
    assert method.target_encoder.config == method.encoder.config
    x = ecg()
    with torch.no_grad():
        features = method.encoder.embed(x)
        assert features.shape == (4, method.encoder.embed_dim)
        torch.testing.assert_close(features, method.encoder.tokens(x).mean(dim=1))


@pytest.mark.parametrize("mask_type", ["multiblock", "random"])
def test_loss_is_finite_and_falls_on_a_fixed_batch(mask_type: str) -> None:
    method = build(mask_type=mask_type)
    output = method.loss(ecg())
    assert set(output) == {"loss", "mask_ratio", "target_std", "context_std"}
    assert all(torch.isfinite(value) for value in output.values())
    losses = train_steps(method, ecg(), 30)
    assert np.mean(losses[-3:]) < 0.5 * np.mean(losses[:3])


def test_gradients_reach_context_encoder_and_predictor_not_target() -> None:
    method = build()
    method.loss(ecg())["loss"].backward()
    for name, param in [*method.encoder.named_parameters(), *method.predictor.named_parameters()]:
        assert param.grad is not None and param.grad.abs().sum() > 0, name
    for param in method.target_encoder.parameters():
        assert not param.requires_grad and param.grad is None


def test_deterministic_under_a_fixed_seed() -> None:
    first, second = build(seed=3), build(seed=3)
    x = ecg()
    torch.manual_seed(7)
    losses_a = train_steps(first, x, 3)
    torch.manual_seed(7)
    losses_b = train_steps(second, x, 3)
    assert losses_a == losses_b
    for a, b in zip(first.state_dict().values(), second.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert not torch.equal(
        build(seed=4).encoder.patch_embed.weight, build(seed=3).encoder.patch_embed.weight
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"mask_ratio": 0.5}, "unknown field"),
        ({"mask_blocks": "four"}, "mask_blocks"),
        ({"random_ratio": [0.6, 1.2]}, "random_ratio"),
        ({"random_ratio": [0.0, 0.5]}, "random_ratio"),
        ({"block_ratio": [0.3, 0.2]}, "block_ratio"),
        ({"block_ratio": [0.2, 0.3]}, "mask_blocks x block_ratio"),
        ({"mask_type": "tube"}, "mask_type"),
        ({"loss": "mse"}, "loss"),
        ({"ema_start": 1.5}, "ema_start"),
        ({"ema_start": 0.999, "ema_end": 0.99}, "ema_end"),
        ({"size": "huge"}, "size"),
        ({"predictor_dim": 36, "predictor_heads": 5}, "predictor_dim"),
        ({"predictor_dim": 6, "predictor_heads": 1}, "predictor_dim"),  # one_lead_grid: 4 | dim
        ({"predictor_pos": "learned"}, "predictor_pos"),
        ({"mask_per": "record"}, "mask_per"),
        ({"pos_layout": "lead_major"}, "pos_layout"),
        ({"norm_eps": 0.0}, "norm_eps"),
        ({"drop_path": 1.0}, "drop_path"),
    ],
)
def test_bad_config_is_a_config_error(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        from_dict(JEPAConfig, data, where="jepa")


def test_too_few_time_patches_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="too few"):
        JEPA(JEPAConfig(patch_size=50), SPEC)  # 2 columns cannot hold 4 blocks and a visible one


# --- masking -------------------------------------------------------------------------------


@pytest.mark.parametrize("mask_per", ["batch", "sample"])
@pytest.mark.parametrize("mask_type", ["multiblock", "random"])
def test_the_same_time_columns_are_hidden_in_every_lead(mask_type: str, mask_per: str) -> None:
    method = build(mask_type=mask_type, mask_per=mask_per)
    torch.manual_seed(0)
    mask = method.draw_mask(16, CPU)
    lead_ids, time_ids = mask.context_ids(SPEC.n_leads)
    width = mask.visible.shape[1]
    for b in range(16):
        shown = sorted(set(range(P)) - set(mask.masked[b].nonzero().flatten().tolist()))
        for lead in range(SPEC.n_leads):
            slots = slice(lead * width, (lead + 1) * width)
            real = lead_ids[b, slots] != PAD_ID
            assert (lead_ids[b, slots][real] == lead).all()
            assert time_ids[b, slots][real].tolist() == shown  # same columns, every lead
            assert (time_ids[b, slots][~real] == PAD_ID).all()
        assert int(mask.valid[b].sum()) == len(shown)


def test_random_ratio_is_one_count_per_batch_inside_the_range() -> None:
    torch.manual_seed(0)
    counts = set()
    for _ in range(200):
        masked = random_mask(8, 50, (0.6, 0.7), CPU)
        per_sample = masked.sum(dim=1)
        assert (per_sample == per_sample[0]).all()
        counts.add(int(per_sample[0]))
    assert counts <= set(range(30, 36)) and len(counts) >= 5  # floor(50 * [0.6, 0.7])


def test_multiblock_blocks_lie_inside_and_their_union_is_hidden() -> None:
    torch.manual_seed(0)
    starts, lengths = draw_blocks(500, 50, 4, (0.175, 0.225), CPU)
    assert lengths.min() == 8 and lengths.max() == 11  # floor(50 * [0.175, 0.225])
    assert (starts >= 0).all() and (starts + lengths <= 49).all()  # last column never hidden
    assert starts.min() == 0 and (starts + lengths).max() == 49
    starts, lengths = draw_blocks(500, 50, 4, (0.175, 0.225), CPU, reach_end=True)
    assert starts.min() == 0 and (starts + lengths).max() == 50
    explicit = block_union(torch.tensor([[0, 2, 10]]), torch.tensor([[3, 3, 1]]), 12)
    assert explicit[0].nonzero().flatten().tolist() == [0, 1, 2, 3, 4, 10]  # overlap merged
    torch.manual_seed(5)
    drawn = multiblock_mask(64, 50, 4, (0.175, 0.225), CPU)
    torch.manual_seed(5)
    again_starts, again_lengths = draw_blocks(64, 50, 4, (0.175, 0.225), CPU)
    for b in range(64):
        expected = torch.zeros(50, dtype=torch.bool)
        for s, n in zip(again_starts[b].tolist(), again_lengths[b].tolist(), strict=True):
            expected[s : s + n] = True
        assert torch.equal(drawn[b], expected)
    counts = drawn.sum(dim=1)
    assert counts.min() >= 8 and counts.max() <= 44 and counts.float().std() > 2


def test_time_mask_layout_pads_after_the_visible_columns() -> None:
    masked = torch.tensor([[True, False, False, True, False], [True, True, True, False, True]])
    mask = TimeMask.from_masked(masked)
    assert mask.visible.shape == (2, 3)
    assert mask.visible[0].tolist() == [1, 2, 4] and mask.valid[0].all()
    assert mask.visible[1, 0] == 3 and mask.valid[1].tolist() == [True, False, False]


# --- EMA -----------------------------------------------------------------------------------


def test_ema_follows_the_schedule_and_the_target_gets_no_gradient() -> None:
    method = build()
    optimizer = build_optimizer(method, 1e-2, 0.05, (0.9, 0.999), CPU)
    in_groups = {id(p) for group in optimizer.param_groups for p in group["params"]}
    assert in_groups.isdisjoint(id(p) for p in method.target_encoder.parameters())
    assert in_groups == {id(p) for p in method.parameters() if p.requires_grad}
    total = 2
    for step in range(1, total + 1):
        optimizer.zero_grad()
        method.loss(ecg())["loss"].backward()
        assert all(p.grad is None for p in method.target_encoder.parameters())
        optimizer.step()
        old = [p.clone() for p in method.target_encoder.parameters()]
        method.on_step_end(step, total)
        m = method.momentum(step, total)
        assert 0.996 <= m < 1.0
        new = list(method.target_encoder.parameters())
        student = list(method.encoder.parameters())
        for after, before, current in zip(new, old, student, strict=True):
            assert torch.equal(after, before * m + current * (1 - m))
        assert any(not torch.equal(after, before) for after, before in zip(new, old, strict=True))


# --- context encoder and predictor ---------------------------------------------------------


@pytest.mark.parametrize("mask_per", ["batch", "sample"])
@pytest.mark.parametrize("mask_type", ["multiblock", "random"])
def test_context_encoder_attends_only_to_visible_tokens(mask_type: str, mask_per: str) -> None:
    method = build(mask_type=mask_type, mask_per=mask_per).eval()
    x = ecg(batch=6)
    torch.manual_seed(2)
    mask = method.draw_mask(6, CPU)
    column = int(mask.masked[0].nonzero()[0])
    changed = x.clone()
    changed[0, 1, column * PATCH : (column + 1) * PATCH] += 5.0  # a hidden patch of lead 1
    with torch.no_grad():
        context = method.context_tokens(x, mask)
        assert torch.equal(context, method.context_tokens(changed, mask))
        assert not torch.allclose(method.targets(x)[0], method.targets(changed)[0])
        shown = int(mask.visible[0, 0])
        visible_change = x.clone()
        visible_change[0, 1, shown * PATCH : (shown + 1) * PATCH] += 5.0
        assert not torch.allclose(context[0], method.context_tokens(visible_change, mask)[0])
        for b in range(6):  # padded batch == each sample alone on its visible tokens
            columns = mask.visible[b][mask.valid[b]]
            keep = (torch.arange(SPEC.n_leads)[:, None] * P + columns).reshape(1, -1)
            alone = method.encoder.tokens(x[b : b + 1], keep).view(SPEC.n_leads, -1, 64)
            torch.testing.assert_close(context[b, :, : len(columns)], alone, atol=1e-5, rtol=1e-5)


def test_predictor_has_no_cross_lead_attention() -> None:
    method = build().eval()
    torch.manual_seed(3)
    mask = method.draw_mask(4, CPU)
    with torch.no_grad():
        context = method.context_tokens(ecg(), mask)
        prediction = method.predictor(context, mask)
        assert prediction.shape == (4, SPEC.n_leads, P, 64)
        other = context.clone()
        other[:, 1] += torch.randn_like(other[:, 1])  # lead 2's context
        moved = method.predictor(other, mask)
        assert torch.equal(moved[:, 0], prediction[:, 0]) and torch.equal(
            moved[:, 2], prediction[:, 2]
        )
        assert not torch.allclose(moved[:, 1], prediction[:, 1])
        filler = context.clone()
        filler[~mask.valid[:, None, :].expand_as(filler[..., 0])] = 9.0  # padding slots ignored
        torch.testing.assert_close(method.predictor(filler, mask), prediction)


def test_loss_is_l1_on_layer_normed_targets_at_hidden_columns_only() -> None:
    method = build(loss="l1").eval()
    x = ecg()
    torch.manual_seed(11)
    loss = method.loss(x)["loss"]
    torch.manual_seed(11)
    mask = method.draw_mask(4, CPU)
    with torch.no_grad():
        target = method.targets(x)
        torch.testing.assert_close(
            target.mean(-1), torch.zeros_like(target[..., 0]), atol=1e-5, rtol=0
        )
        torch.testing.assert_close(
            target.std(-1, unbiased=False), torch.ones_like(target[..., 0]), atol=1e-3, rtol=0
        )
        prediction = method.predictor(method.context_tokens(x, mask), mask)
    hidden = mask.masked[:, None, :].expand(-1, SPEC.n_leads, -1)
    expected = (prediction - target).abs()[hidden].mean()
    torch.testing.assert_close(loss.detach(), expected, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("mask_type", ["multiblock", "random"])
def test_context_std_is_the_batch_spread_of_pooled_position_centred_tokens(mask_type: str) -> None:
    method = build(mask_type=mask_type).eval()
    x = ecg(batch=6)
    torch.manual_seed(5)
    logged = method.loss(x)["context_std"]
    torch.manual_seed(5)
    mask = method.draw_mask(6, CPU)
    with torch.no_grad():
        context = method.context_tokens(x, mask)
    columns = [mask.visible[i][mask.valid[i]].tolist() for i in range(6)]
    tokens = [dict(zip(columns[i], context[i].unbind(1), strict=False)) for i in range(6)]
    pooled = []
    for i in range(6):  # each visible token minus the mean of the samples showing its column
        centred = [
            token - torch.stack([other[t] for other in tokens if t in other]).mean(0)
            for t, token in tokens[i].items()
        ]
        pooled.append(torch.stack(centred).mean(dim=(0, 1)))
    expected = torch.stack(pooled).std(dim=0, unbiased=False).mean()
    assert not logged.requires_grad and logged.dtype == torch.float32
    torch.testing.assert_close(logged, expected, atol=1e-6, rtol=1e-4)
    assert logged > 1e-3  # distinct records give distinct pooled context embeddings


def test_context_std_is_not_driven_by_which_columns_each_sample_shows() -> None:
    method = build(mask_per="sample").eval()
    torch.manual_seed(2)
    mask = method.draw_mask(6, CPU)
    assert len({tuple(row.tolist()) for row in mask.masked}) > 1
    spreads, uncentred = {}, {}
    for name, x in {"same": ecg(batch=1).expand(6, -1, -1), "distinct": ecg(batch=6)}.items():
        with torch.no_grad():
            context = method.context_tokens(x, mask)
        valid = mask.valid[:, None, :, None].float()
        pooled = (context * valid).sum(dim=(1, 2)) / (valid.sum(dim=(1, 2)) * SPEC.n_leads)
        uncentred[name] = pooled.std(dim=0, unbiased=False).mean()
        spreads[name] = context_spread(context, mask)
    # plain pooling over each sample's own visible columns mostly measures the mask ...
    assert uncentred["same"] > 0.5 * uncentred["distinct"]
    # ... the centred spread of one record seen through six masks is small next to it,
    # and well below that of six distinct records
    assert spreads["same"] < 0.1 * uncentred["same"]
    assert spreads["same"] < 0.5 * spreads["distinct"]


def test_context_std_is_zero_for_a_collapsed_context_encoder() -> None:
    method = build().eval()
    with torch.no_grad():
        method.encoder.norm.weight.zero_()  # every token becomes the norm's bias
        method.encoder.norm.bias.normal_()
    output = method.loss(ecg(batch=6))
    assert output["context_std"] < 1e-6 < output["target_std"]
    mask = method.draw_mask(1, CPU)
    single = method.context_tokens(ecg(batch=1), mask)
    assert context_spread(single, mask) == 0  # a batch of one has no spread (and no NaN)


# --- shared loop and checkpoint ------------------------------------------------------------


def test_shared_loop_trains_and_the_encoder_reloads(tmp_path: Path) -> None:
    signals = ecg(batch=16, seed=4).numpy()
    signals = np.concatenate(
        [signals, signals[:, :, ::-1]], axis=2
    ).copy()  # records of 200 samples
    method = build()
    initial_target = copy.deepcopy(method.target_encoder.state_dict())
    config = TrainConfig(
        epochs=2, batch_size=8, lr=1e-3, warmup_epochs=1, device="cpu", checkpoint_every=2
    )
    result = pretrain(method, signals, config, tmp_path / "run", progress=False)
    assert result.finished and result.steps == 4
    assert all(np.isfinite(row["loss"]) for row in result.history)
    start = result.history[0]["context_std"]
    end = np.mean([row["context_std"] for row in result.history if row["epoch"] == 2])
    assert result.collapse == {
        "metric": "context_std", "ratio": 0.5, "start": pytest.approx(start),
        "end": pytest.approx(end), "collapsed": bool(end < 0.5 * start),
    }  # fmt: skip
    encoder = load_encoder(result.checkpoint)
    x = ecg(batch=3, seed=9)
    with torch.no_grad():
        torch.testing.assert_close(encoder.embed(x), method.encoder.eval().embed(x), atol=0, rtol=0)
    reloaded = load_method(result.checkpoint)
    moved = reloaded.target_encoder.state_dict()
    assert any(not torch.equal(moved[k], initial_target[k]) for k in initial_target)
    for key, value in method.target_encoder.state_dict().items():
        assert torch.equal(moved[key], value)
