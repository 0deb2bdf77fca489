"""The cost of a planned grid before it runs: counted FLOPs per pretraining and per protocol, and
the hours they take on this machine and on a named device class at a share of its peak.

The FLOPs are ``bench.perf.grid_flops``'s (matrix products of one real step or window of each
shape, multiplied out); the hours are FLOPs over a rate, so a floor: data loading, element-wise
work, the probes' L-BFGS fits and the bootstraps come on top.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import torch

from bench.errors import ConfigError
from bench.perf.flops import peak_tflops
from bench.perf.grid_counts import GridCount
from bench.perf.matmul_peak import cached_matmul_tflops

DEVICE_CLASSES: dict[str, str] = {
    "h100": "H100",
    "h100-pcie": "H100 PCIE",
    "h100-nvl": "H100 NVL",
    "h200": "H200",
    "a100": "A100",
    "l40s": "L40S",
    "l4": "L4",
}
"""``--device-class`` names and the GPU name they look up in ``bench.perf.flops.GPU_PEAKS``."""


@dataclass(frozen=True)
class Rate:
    """A sustained FLOP/s and how it was obtained."""

    label: str
    flops_per_s: float


@dataclass(frozen=True)
class CostRow:
    """FLOPs of one part of the grid: a method's pretraining, or one protocol's cells."""

    part: str  # "pretraining" | "protocol" | "total"
    name: str  # the method (pretraining), the protocol, or "all"
    items: int  # pretrainings, fine-tune cells or encoder embeddings
    flops: int


def cost_rows(counted: GridCount) -> list[CostRow]:
    """Per pretraining method, then per protocol (fine-tune: its training and scoring; linear:
    the embeddings), then the total."""
    flops: Counter[tuple[str, str]] = Counter()
    items: Counter[tuple[str, str]] = Counter()
    for item in counted.items:
        if item.component == "pretraining":
            key = ("pretraining", item.method)
        elif item.component == "linear embedding":
            key = ("protocol", "linear")
        else:
            key = ("protocol", "finetune")
        flops[key] += item.flops
        items[key] += item.items if item.component != "finetune scoring" else 0
    keys = sorted(k for k in flops if k[0] == "pretraining") + [
        k for k in (("protocol", "finetune"), ("protocol", "linear")) if k in flops
    ]
    rows = [CostRow(part, name, items[(part, name)], flops[(part, name)]) for part, name in keys]
    return [*rows, CostRow("total", "all", sum(r.items for r in rows), counted.total())]


def machine_rate() -> Rate:
    """This machine's measured matmul peak (``bench.perf.matmul_peak``): the GPU's at bf16 when
    there is one, else the CPU's at fp32 with torch's threads."""
    if torch.cuda.is_available():
        device, dtype = torch.device("cuda"), torch.bfloat16
        label = f"this machine ({torch.cuda.get_device_name(device)}, bf16 matmul peak)"
    else:
        device, dtype = torch.device("cpu"), None
        threads = torch.get_num_threads()
        label = f"this machine (CPU, {threads} threads, fp32 matmul peak)"
    tflops = cached_matmul_tflops(device, dtype, torch.get_num_threads())
    return Rate(f"{label} {tflops * 1e3:.1f} GFLOP/s", tflops * 1e12)


def device_class_rate(name: str, share: float, precision: str = "bf16") -> Rate:
    """``share`` of the vendor peak of device class ``name`` at ``precision`` (bf16 | fp32)."""
    if name not in DEVICE_CLASSES:
        raise ConfigError(
            f"--device-class {name!r} is not known; use one of {', '.join(DEVICE_CLASSES)}"
        )
    if not 0 < share <= 1:
        raise ConfigError(f"--device-share {share} must be in (0, 1], e.g. 0.4 for 40 %")
    dtype = torch.bfloat16 if precision == "bf16" else None
    peak = peak_tflops(DEVICE_CLASSES[name], dtype)
    assert peak is not None, f"{name} is missing from GPU_PEAKS"
    label = f"{name} at {share:.0%} of its {precision} peak ({peak:g} TFLOP/s)"
    return Rate(label, share * peak * 1e12)


def format_cost(rows: list[CostRow], rates: list[Rate]) -> list[str]:
    """The table: PFLOP and hours at each rate per row, then what each rate column is."""
    header = f"{'part':<12} {'name':<24} {'items':>6} {'PFLOP':>10}"
    header += "".join(f" {f'hours ({i + 1})':>11}" for i in range(len(rates)))
    lines = [header]
    for row in rows:
        line = f"{row.part:<12} {row.name:<24} {row.items:>6} {row.flops / 1e15:>10.3f}"
        line += "".join(f" {row.flops / rate.flops_per_s / 3600:>11.2f}" for rate in rates)
        lines.append(line)
    lines += [f"({i + 1}) {rate.label}" for i, rate in enumerate(rates)]
    lines.append(
        "counted: matrix products of the planned steps and windows; not counted: the linear "
        "probes' L-BFGS fits, bootstraps, data loading and element-wise work"
    )
    return lines
