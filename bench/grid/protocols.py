"""The evaluation protocols a grid cell can have, which cells exist, and their keyed configs.

``linear`` (probe on mean-pooled frozen embeddings), ``finetune`` (encoder and head trained),
``attentive`` (learnable-query head over the frozen encoder's tokens) and ``knn`` (cosine
nearest neighbours of the frozen embeddings); a method lists the ones it is evaluated by
(``Method.protocols``). ``skip_reason`` says why the grid plans no cell where it plans none.
"""

from __future__ import annotations

from typing import Any

from bench.config import to_dict
from bench.evaluation.finetune import head_spec
from bench.evaluation.shots import SHOT_KINDS
from bench.grid.unit import Unit
from bench.method import Protocol
from bench.task import Task

PROTOCOLS: tuple[Protocol, ...] = ("linear", "finetune", "attentive", "knn")
DEFAULT_PROTOCOLS: tuple[Protocol, ...] = ("linear", "finetune")
"""What ``bench run`` evaluates unless ``--protocols`` says otherwise (attentive and knn are
asked for by name, so a grid from before them reruns as 0 cells run)."""


def protocol_document(unit: Unit, task: Task, protocol: Protocol) -> dict[str, Any]:
    """The config of ``protocol`` as a cell key holds it."""
    evaluation = unit.evaluation
    if task.kind == "segmentation" and protocol == "linear":  # the frozen per-step head
        return to_dict(evaluation.segmentation)
    if protocol == "linear":
        return to_dict(evaluation.linear)
    if protocol == "attentive":
        return to_dict(evaluation.attentive)
    if protocol == "knn":
        return to_dict(evaluation.knn)
    return {**finetune_document(unit, task.kind), "aggregate": evaluation.aggregate}


def skip_reason(unit: Unit, task: Task, protocol: Protocol, shots: int | None) -> str | None:
    """Why the grid plans no cell of ``unit`` on ``task`` under ``protocol`` (and ``shots``),
    or None when it does."""
    method = unit.setup.method
    if method.task_kinds is not None and task.kind not in method.task_kinds:
        kinds = ", ".join(method.task_kinds)
        return f"{unit.method}: evaluated on {kinds} tasks only, not {task.kind} ({task.name})"
    if protocol not in method.protocols:
        served = ", ".join(method.protocols)
        return f"{unit.method}: evaluated by {served} only, not {protocol}"
    if task.kind == "segmentation" and protocol in ("attentive", "knn"):
        return (
            f"{protocol} on {task.name}: a per-record head; segmentation is scored per sample "
            "(linear and finetune only)"
        )
    if shots is not None and task.kind not in SHOT_KINDS:
        return f"few-shot on {task.name}: K records per class, and a {task.kind} task has none"
    return None


def finetune_document(unit: Unit, kind: str = "multilabel") -> dict[str, Any]:
    """The unit's fine-tuning config as keyed: the head it really gets ("linear" or its MLP
    sizes) and ``schedule`` / ``input_dropout`` / the regression loss (Huber, on a task of
    ``kind`` regression) / the paper's fine-tuning stages (CPC's head-then-everything) /
    ``layer_decay`` only where they matter, so a cell computed as before keeps its key."""
    finetune = unit.evaluation.finetune
    document = to_dict(finetune)
    del document["input_dropout"]
    if kind != "regression" or finetune.regression_loss == "mse":
        del document["regression_loss"], document["huber_delta"]
    if finetune.schedule == "cosine":
        del document["schedule"]
    head = head_spec(finetune, unit.named_head)
    document["head"] = "linear" if head is None else {"mlp": to_dict(head)}
    del document["stages"]
    if finetune.stages == "method" and unit.finetune_stages is not None:
        document["stages"] = to_dict(unit.finetune_stages)
    if finetune.layer_decay is None:
        del document["layer_decay"]
    return document
