"""The loss-dict contract every method's ``loss`` must keep."""

from __future__ import annotations

import pytest
import torch

from bench.encoders.base import InputSpec
from bench.method import METHODS, Method, loss_scalars


@pytest.fixture
def method() -> Method:
    plugin = METHODS.get("cpc")
    return plugin(plugin.config_class(), InputSpec(n_leads=3, n_samples=64, sampling_rate=100))


def test_loss_scalars_keep_scalars_loss_first_and_drop_the_rest(method: Method) -> None:
    output = {"mae": torch.tensor([2.0]), "loss": torch.tensor(1.0), "n": 3, "flag": True,
              "map": torch.zeros(4)}  # fmt: skip
    scalars = loss_scalars(method, output)
    assert list(scalars) == ["loss", "mae", "n"]
    assert [value.shape for value in scalars.values()] == [torch.Size([])] * 3
    assert scalars["n"].item() == 3.0


@pytest.mark.parametrize(
    ("output", "message"),
    [
        (torch.tensor(1.0), "CPC.loss must return a dict with a tensor 'loss'"),
        ({"mae": torch.tensor(1.0)}, "CPC.loss must return a dict with a tensor 'loss'"),
        ({"loss": 1.0}, "CPC.loss must return a dict with a tensor 'loss'"),
        ({"loss": torch.ones(2)}, "CPC.loss: 'loss' must be a scalar tensor"),
    ],
)
def test_loss_scalars_name_the_method_whose_output_breaks_the_contract(
    method: Method, output: object, message: str
) -> None:
    with pytest.raises(TypeError, match=message):
        loss_scalars(method, output)
