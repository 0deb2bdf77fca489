"""CPC's loss predicts exactly ``predict_ahead_s`` ahead: its horizon checked through the loss.

The encoder and context network are replaced by one-hot codes of the time step (z_t = c_t =
e_t), and the projection maps e_p to a large multiple of e_{p+k} for the configured k. A loss
that scores each prediction against the encoding k steps later is then near zero; one whose
horizon is off by one step (everywhere in the loss, so nothing else notices) is near
log(1 + n_negatives) or worse.
"""

from __future__ import annotations

import math

import pytest
import torch

from bench.encoders.base import InputSpec
from methods.cpc import CPC, CPCConfig

pytestmark = pytest.mark.numeric

T, RATE = 40, 100


def _oracle(horizon: int) -> CPC:
    """CPC whose projection predicts one-hot time codes exactly ``horizon`` steps ahead."""
    torch.manual_seed(0)
    model = CPC(CPCConfig(width=T, hidden=T, n_negatives=128), InputSpec(2, T, RATE))
    codes = torch.eye(T)
    model.encoder.encode = lambda x: codes.expand(x.shape[0], T, T)  # type: ignore[method-assign]
    model.encoder.contexts = lambda z: z  # type: ignore[method-assign]
    with torch.no_grad():
        model.projection.weight.copy_(20.0 * torch.diag(torch.ones(T - horizon), -horizon))
    return model


def test_the_loss_horizon_is_the_configured_one() -> None:
    configured = round(CPCConfig().predict_ahead_s * RATE)
    assert configured == 12
    model = _oracle(configured)
    assert model.steps_ahead == configured
    out = model.loss(torch.zeros(4, 2, T))
    assert out["loss"].item() < 1e-3  # every prediction picks the step 12 ahead
    assert out["accuracy"].item() == 1.0


@pytest.mark.parametrize("horizon", [11, 13])
def test_an_oracle_of_another_horizon_scores_at_chance_or_worse(horizon: int) -> None:
    out = _oracle(horizon).loss(torch.zeros(4, 2, T))
    assert out["loss"].item() > math.log(2)  # the test above can tell the horizons apart
