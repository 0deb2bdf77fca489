"""The oneDNN linear back-end is an execution choice: the same layer, to float32 rounding."""

from __future__ import annotations

import copy

import pytest
import torch
from timm.layers import Mlp
from torch import nn

from bench.encoders.base import InputSpec
from bench.encoders.onednn_linear import (
    OneDNNLinear,
    OneDNNLinearFunction,
    OneDNNMlp,
    onednn_applies,
    set_linear_backend,
)
from bench.encoders.patch_transformer import PatchTransformer, PatchTransformerConfig
from bench.perf.flops import count_flops

pytestmark = [
    pytest.mark.numeric,
    pytest.mark.skipif(
        not torch.backends.mkldnn.is_available(), reason="torch built without oneDNN"
    ),
]


def linear_and_grads(
    layer: nn.Linear, x: torch.Tensor
) -> tuple[torch.Tensor, list[torch.Tensor | None]]:
    """Output and the gradients of input, weight and bias under a fixed linear functional."""
    x = x.detach().requires_grad_(True)
    out = layer(x)
    (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
    grads = [x.grad, layer.weight.grad, None if layer.bias is None else layer.bias.grad]
    return out.detach(), grads


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(5, 7, 24), (11, 24), (3, 4, 6, 24)])
def test_onednn_linear_equals_nn_linear(bias: bool, shape: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    reference = nn.Linear(24, 40, bias=bias)
    fast = copy.deepcopy(reference)
    set_linear_backend(fast, "onednn")
    assert type(fast) is OneDNNLinear
    x = torch.randn(shape)
    out, grads = linear_and_grads(reference, x)
    fast_out, fast_grads = linear_and_grads(fast, x)
    torch.testing.assert_close(fast_out, out, atol=1e-6, rtol=1e-6)
    for got, want in zip(fast_grads, grads, strict=True):
        torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-6)


def test_non_contiguous_input_and_frozen_weight() -> None:
    torch.manual_seed(0)
    layer = nn.Linear(16, 8).requires_grad_(False)
    x = torch.randn(6, 16, 5).transpose(1, 2).requires_grad_(True)  # [6, 5, 16], strided
    out = OneDNNLinearFunction.apply(x, layer.weight, layer.bias)
    torch.testing.assert_close(out, nn.functional.linear(x, layer.weight, layer.bias))
    out.sum().backward()
    torch.testing.assert_close(x.grad, layer.weight.sum(dim=0).expand(6, 5, 16))


def test_falls_back_outside_float32_cpu() -> None:
    weight = torch.zeros(4, 3)
    assert onednn_applies(torch.zeros(2, 3), weight)
    assert not onednn_applies(torch.zeros(2, 3, dtype=torch.float64), weight)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert not onednn_applies(torch.zeros(2, 3), weight)
        layer = OneDNNLinear(3, 4)
        assert layer(torch.randn(2, 3)).dtype == torch.bfloat16  # autocast's nn.Linear


@pytest.mark.slow
def test_compiles_in_one_graph_as_nn_linear() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.GELU(), nn.Linear(16, 4))
    set_linear_backend(model, "onednn")
    x = torch.randn(5, 8)
    compiled = torch.compile(model, backend="aot_eager", fullgraph=True)
    torch.testing.assert_close(compiled(x), model(x), atol=1e-6, rtol=1e-6)


def test_flop_counting_sees_the_onednn_layers() -> None:
    layer = nn.Linear(24, 40)
    x = torch.randn(10, 24, requires_grad=True)
    expected = count_flops(lambda: layer(x).sum().backward())
    set_linear_backend(layer, "onednn")
    assert count_flops(lambda: layer(x).sum().backward()) == expected == 3 * 2 * 10 * 24 * 40


def test_switch_keeps_parameters_and_state_dict() -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    params = list(model.parameters())
    state = {key: value.clone() for key, value in model.state_dict().items()}
    set_linear_backend(model, "onednn")
    assert [type(m) for m in model] == [OneDNNLinear, nn.ReLU, OneDNNLinear]
    assert all(a is b for a, b in zip(model.parameters(), params, strict=True))
    set_linear_backend(model, "aten")
    assert [type(m) for m in model] == [nn.Linear, nn.ReLU, nn.Linear]
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key])
    with pytest.raises(ValueError, match="not one of"):
        set_linear_backend(model, "mkl")  # type: ignore[arg-type]


def test_patch_transformer_same_tokens_and_gradients() -> None:
    spec = InputSpec(4, 60, 100)
    config = PatchTransformerConfig(dim=16, depth=2, heads=2, patch_size=6, attention="cropa")
    torch.manual_seed(0)
    reference = PatchTransformer(config, spec)
    fast = copy.deepcopy(reference)
    set_linear_backend(fast, "onednn")
    x = torch.randn(3, spec.n_leads, spec.n_samples, generator=torch.Generator().manual_seed(1))
    results = []
    for encoder in (reference, fast):
        tokens = encoder.tokens(x)
        (tokens * torch.linspace(-1, 1, tokens.numel()).view_as(tokens)).sum().backward()
        results.append((tokens.detach(), [p.grad for p in encoder.parameters()]))
    torch.testing.assert_close(results[1][0], results[0][0], atol=1e-5, rtol=1e-5)
    for got, want in zip(results[1][1], results[0][1], strict=True):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_mlp_fuses_gelu_only_without_gradients(monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(0)
    reference = Mlp(24, 64)
    fast = copy.deepcopy(reference)
    set_linear_backend(fast, "onednn")
    assert type(fast) is OneDNNMlp
    op = torch.ops.mkldnn._linear_pointwise
    post_ops: list[str] = []

    def recording(*args: object) -> torch.Tensor:
        post_ops.append(str(args[3]))
        return op(*args)

    monkeypatch.setattr(torch.ops.mkldnn, "_linear_pointwise", recording)
    x = torch.randn(3, 7, 24)
    with torch.no_grad():
        torch.testing.assert_close(fast(x), reference(x), atol=1e-6, rtol=1e-6)
    assert post_ops == ["gelu", "none"]  # fc1 with its GELU in one call, then fc2
    post_ops.clear()
    x.requires_grad_(True)
    fast(x).sum().backward()
    assert post_ops[:2] == ["none", "none"]  # with a graph: fc1, GELU and fc2 apart
    assert x.grad is not None
    set_linear_backend(fast, "aten")
    assert type(fast) is Mlp and type(fast.fc1) is nn.Linear
