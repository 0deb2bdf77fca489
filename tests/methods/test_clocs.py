"""``clocs``: its loss on hand-made cases, the views of each mode, the encoder's shapes."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from bench.config import from_dict
from bench.encoders.base import InputSpec
from bench.errors import ConfigError
from bench.grid.profiles import load_profile
from bench.method import METHODS
from methods.clocs import CLOCS, CLOCSConfig, arrange_views
from methods.clocs_encoder import CLOCSEncoder, CLOCSEncoderConfig, minmax_scale
from methods.contrastive import clocs_loss

SPEC = InputSpec(n_leads=3, n_samples=250, sampling_rate=100)


def build(seed: int = 0, **fields: object) -> CLOCS:
    torch.manual_seed(seed)
    return CLOCS(from_dict(CLOCSConfig, {"stride": 1, "embedding_dim": 8, **fields}), SPEC)


def test_loss_on_a_hand_made_case() -> None:
    views = torch.eye(2).expand(2, 2, 2)  # two views, each instance the same unit vector
    # distinct identities: every row and column has its positive at 1 and a negative at 0
    distinct = clocs_loss(views, torch.tensor([0, 1]), temperature=1.0)
    assert distinct.item() == pytest.approx(math.log(1 + math.exp(-1)))
    # one patient: the off-diagonal pairs (similarity 0) are positives too
    same = clocs_loss(views, torch.tensor([7, 7]), temperature=1.0)
    expected = (2 * math.log(1 + math.exp(-1)) + 2 * math.log(1 + math.e)) / 4
    assert same.item() == pytest.approx(expected)


def test_loss_with_distinct_identities_is_the_references_diagonal_loss() -> None:
    g = torch.Generator().manual_seed(0)
    views, temperature = torch.randn(3, 5, 4, generator=g), 0.1
    expected, pairs = 0.0, 0
    for i in range(3):
        for j in range(i + 1, 3):
            a, b = F.normalize(views[i].double(), dim=1), F.normalize(views[j].double(), dim=1)
            scores = (a @ b.T / temperature).exp()
            diagonal = scores.diag()
            rows = -(diagonal / scores.sum(dim=1)).log().mean()
            columns = -(diagonal / scores.sum(dim=0)).log().mean()
            expected, pairs = expected + (rows + columns).item() / 2, pairs + 1
    value = clocs_loss(views, torch.arange(5), temperature).item()
    assert value == pytest.approx(expected / pairs, rel=1e-5)


def test_views_of_each_mode() -> None:
    embeddings = torch.arange(2 * 3 * 2).float().reshape(2, 3, 2, 1)  # [B, leads, segments, E]
    cmsc = arrange_views(embeddings, "cmsc")  # views = segments, instances = (crop, lead)
    assert cmsc.shape == (2, 6, 1)
    torch.testing.assert_close(cmsc[1, 4], embeddings[1, 1, 1])
    cmsmlc = arrange_views(embeddings, "cmsmlc")  # views = (lead, segment), instances = crops
    assert cmsmlc.shape == (6, 2, 1)
    torch.testing.assert_close(cmsmlc[3, 1], embeddings[1, 1, 1])
    cmlc = arrange_views(embeddings[:, :, :1], "cmlc")  # views = leads
    assert cmlc.shape == (3, 2, 1)


def test_modes_cut_windows_into_segments_and_embed_leads_side_by_side() -> None:
    x = torch.randn(4, 3, 250)
    for mode, segments in (("cmsc", 2), ("cmsmlc", 2), ("cmlc", 1)):
        method = build(mode=mode)
        assert method.encoder.segment_embeddings(x).shape == (4, 3, segments, 8)
        assert method.encoder.embed(x).shape == (4, 3 * 8) == (4, method.encoder.embed_dim)
        features = method.encoder.features(x)
        assert features.shape == (4, segments, 24)
        assert method.encoder.feature_stride == 250 // segments
        loss = method.loss(x)["loss"]
        assert loss.ndim == 0 and torch.isfinite(loss)


def test_embed_of_a_window_is_the_mean_of_its_halves() -> None:
    method = build().eval()
    x = torch.randn(2, 3, 250)
    halves = method.encoder.segment_embeddings(x)
    first = method.encoder.segment_embeddings(x[..., :125])
    torch.testing.assert_close(halves[:, :, :1], first)
    torch.testing.assert_close(method.encoder.embed(x), halves.mean(dim=2).flatten(1))


def test_segments_are_min_max_scaled_so_amplitude_and_offset_do_not_matter() -> None:
    method = build().eval()
    x = torch.randn(2, 3, 250)
    torch.testing.assert_close(method.encoder.embed(3 * x + 5), method.encoder.embed(x))
    scaled = minmax_scale(torch.tensor([[2.0, 4.0, 3.0], [1.0, 1.0, 1.0]]))
    torch.testing.assert_close(scaled, torch.tensor([[0.0, 1.0, 0.5], [0.0, 0.0, 0.0]]))


def test_training_learns_to_pair_the_halves_of_a_recording() -> None:
    method = build(mode="cmsc")
    t = torch.arange(250) / 100
    hz = torch.linspace(0.5, 12.0, 48).reshape(16, 3, 1)  # each lead of each record its own
    batch = torch.sin(2 * math.pi * hz * t)
    optimizer = torch.optim.Adam(method.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        loss = method.loss(batch)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    chance = math.log(16 * 3)  # 48 instances: every candidate equally likely
    assert sum(losses[-5:]) / 5 < 0.5 * chance


def test_short_segments_are_refused_with_the_fix() -> None:
    assert CLOCSEncoderConfig().shortest_segment() == 388  # the reference's CNN at stride 3
    with pytest.raises(ConfigError, match=r"125-sample segments.*at least 388.*clocs.stride"):
        CLOCS(CLOCSConfig(), SPEC)
    with pytest.raises(ConfigError, match=r"clocs.mode = 'cmc'"):
        CLOCSConfig(mode="cmc")  # type: ignore[arg-type]
    CLOCSEncoder(CLOCSEncoderConfig(segments=2), InputSpec(12, 776, 500))  # 388 per half


def test_registered_as_a_comparator_and_every_profile_builds_it() -> None:
    assert METHODS.get("clocs") is CLOCS and CLOCS.group == "comparators"
    smoke = load_profile("smoke").resolve("clocs")
    spec = InputSpec(12, round(smoke.window_s * smoke.preprocessing.rate), 100)
    CLOCS(smoke.method_config, spec)
    paper = load_profile("paper").resolve("clocs")
    assert (paper.preprocessing.rate, paper.window_s) == (500, 10.0)
    CLOCS(paper.method_config, InputSpec(12, 5000, 500))
