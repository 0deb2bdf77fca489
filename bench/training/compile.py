"""``train.compile``: how the loop's objective is compiled, and the time compiling costs.

``compile_objective`` wraps the objective in ``torch.compile``. A method whose step has the
same shapes every step is compiled with static shapes (``dynamic=False``) and compiles once.
A method whose shapes change from step to step says so with the class attribute
``compile_dynamic = True`` (ECG-JEPA: the count of visible columns changes with each mask);
it is compiled with dynamic shapes from the first step, so it too compiles once instead of
once per shape (a step may still fall into a few graphs at a graph break, each compiled
once). Under DDP the wrapped module is compiled the same way.

``CompileClock`` tells apart the steps in which torch compiled something (dynamo's count of
compiled frames moved): their whole wall time is the run's compile time, reported beside the
step time (``PretrainResult.compile_s``, the log, ``bench perf``). The first compiled step
also runs once; on a CPU that is milliseconds against tens of seconds of compiling.
"""

from __future__ import annotations

import torch
from torch import nn


def wants_dynamic_shapes(module: nn.Module) -> bool:
    """Whether ``module`` (or the method inside an ``Objective``/DDP wrapper) varies shapes."""
    return any(getattr(type(part), "compile_dynamic", False) for part in module.modules())


def compile_objective(objective: nn.Module, backend: str = "inductor") -> nn.Module:
    """``torch.compile`` of ``objective``: static shapes unless its method varies them.

    ``backend`` is torch.compile's (tests trace with "aot_eager", which skips code generation).
    """
    return torch.compile(objective, dynamic=wants_dynamic_shapes(objective), backend=backend)


def compiled_frames() -> int:
    """Frames dynamo has compiled in this process so far (each compile and recompile)."""
    from torch._dynamo.utils import counters

    return int(counters["frames"]["total"])


class CompileClock:
    """Adds up the wall time of the steps that compiled; ``compile_s`` is the sum."""

    def __init__(self) -> None:
        self.compile_s = 0.0
        self.compiling_steps = 0
        self._frames = compiled_frames()

    def add_step(self, seconds: float) -> bool:
        """Record a finished step of ``seconds``; True when it compiled something."""
        frames = compiled_frames()
        compiled = frames != self._frames
        self._frames = frames
        if compiled:
            self.compile_s += seconds
            self.compiling_steps += 1
        return compiled
