"""Linear layers through oneDNN on CPU: the same weights and function, faster matrix products.

On this suite's development CPU (AMD EPYC, AVX-512) torch's float32 ``addmm``/``mm`` go to MKL,
whose kernels there reach about 55-85 GFLOP/s on one thread at the transformer's shapes, while
oneDNN's (``torch.ops.mkldnn._linear_pointwise``) reach about 75-97 GFLOP/s on the forward and
input-gradient products; for the weight gradient MKL is as fast or faster, so it stays there.
``OneDNNLinear`` is an ``nn.Linear`` (same parameters, state dict and init) whose forward and
input gradient run on oneDNN when the input is a float32 CPU tensor outside autocast and
outside ``torch.compile``, with oneDNN switched on (``torch.backends.mkldnn.enabled``; FLOP
counting switches it off, ``bench.perf.flops.countable_kernels``, so these layers are
counted); else it is ``nn.Linear`` unchanged. ``OneDNNMlp`` is timm's ``Mlp`` whose first
layer and its exact GELU run as one oneDNN call where no gradient is needed (ECG-JEPA's EMA
target encoder): 0.91 of that encoder's forward time at the issue-11 size.

Both back-ends compute the same products in float32; they differ only in summation order, so
results agree to float32 rounding (about 1e-6 relative; bit-identical for inner sizes of up to
192 in the measurements), like the two CroPA paths. The back-end is an execution option
(``set_linear_backend``), not part of any run key.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from timm.layers import Mlp
from torch import Tensor, nn

LinearBackend = Literal["aten", "onednn"]
LINEAR_BACKENDS: tuple[str, ...] = ("aten", "onednn")


def onednn_applies(x: Tensor, weight: Tensor) -> bool:
    """Whether ``x @ weight.T`` may run on oneDNN: float32 on CPU, oneDNN on, no autocast, not
    compiling."""
    return (
        not torch.compiler.is_compiling()  # first: dynamo must not trace the checks below
        and x.device.type == "cpu"
        and x.dtype == weight.dtype == torch.float32
        and torch.backends.mkldnn.is_available()
        and torch.backends.mkldnn.enabled
        and not torch.is_autocast_enabled("cpu")
    )


def _onednn_linear(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    return torch.ops.mkldnn._linear_pointwise(x, weight, bias, "none", [], "")


class OneDNNLinearFunction(torch.autograd.Function):
    """``F.linear`` with the forward and the input gradient on oneDNN, the weight gradient on
    torch's ``mm`` (the product autograd takes for ``nn.Linear``)."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, x: Tensor, weight: Tensor, bias: Tensor | None
    ) -> Tensor:
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        return _onednn_linear(x, weight, bias)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        x, weight = ctx.saved_tensors
        grad = grad.contiguous()
        grad_x = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_x = _onednn_linear(grad, weight.t().contiguous(), None)
        flat = grad.reshape(-1, grad.shape[-1])
        if ctx.needs_input_grad[1]:
            grad_weight = torch.mm(flat.t(), x.reshape(-1, x.shape[-1]))
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_bias = flat.sum(dim=0)
        return grad_x, grad_weight, grad_bias


class OneDNNLinear(nn.Linear):
    """``nn.Linear`` whose products run on oneDNN where ``onednn_applies`` (see the module)."""

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() < 2 or not onednn_applies(x, self.weight):
            return F.linear(x, self.weight, self.bias)
        return OneDNNLinearFunction.apply(x, self.weight, self.bias)


class OneDNNMlp(Mlp):
    """timm's ``Mlp`` whose first layer and exact GELU run as one oneDNN call (the GELU applied
    to the product's output while in cache) where no gradient is needed, e.g. in an EMA target
    encoder; otherwise (and with other activations, dropout or a hidden norm) ``Mlp`` as is."""

    def forward(self, x: Tensor) -> Tensor:
        fc1 = self.fc1
        fusable = (
            type(fc1) is OneDNNLinear
            and onednn_applies(x, fc1.weight)  # first: it keeps torch.compile off this path
            and x.dim() >= 2
            and type(self.act) is nn.GELU
            and self.act.approximate == "none"
            and isinstance(self.norm, nn.Identity)
            and not (self.training and _drops(self.drop1))
            and not (torch.is_grad_enabled() and _needs_graph(x, fc1))
        )
        if not fusable:
            return super().forward(x)
        h = torch.ops.mkldnn._linear_pointwise(x, fc1.weight, fc1.bias, "gelu", [], "none")
        return self.drop2(self.fc2(h))


def _drops(dropout: nn.Module) -> bool:
    return isinstance(dropout, nn.Dropout) and dropout.p > 0


def _needs_graph(x: Tensor, layer: nn.Linear) -> bool:
    return x.requires_grad or any(p.requires_grad for p in layer.parameters())


def set_linear_backend(module: nn.Module, backend: LinearBackend) -> None:
    """Run every plain ``nn.Linear`` inside ``module`` on ``backend`` ("aten" or "onednn").

    The layers keep their parameters (same objects, so an optimiser built before stays
    valid); only their class switches between ``nn.Linear`` and ``OneDNNLinear`` (and timm's
    ``Mlp`` between ``Mlp`` and ``OneDNNMlp``). Subclasses of ``nn.Linear`` other than these
    two (e.g. quantised or lazy layers) are left alone.
    """
    if backend not in LINEAR_BACKENDS:
        raise ValueError(f"linear backend {backend!r} is not one of {', '.join(LINEAR_BACKENDS)}")
    onednn = backend == "onednn"
    for part in module.modules():
        if type(part) in (nn.Linear, OneDNNLinear):
            part.__class__ = OneDNNLinear if onednn else nn.Linear
        elif type(part) in (Mlp, OneDNNMlp):
            part.__class__ = OneDNNMlp if onednn else Mlp
