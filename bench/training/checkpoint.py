"""Pretraining checkpoints: the file format, atomic saving, and loading a pretrained model.

A checkpoint is one ``torch.save`` file (``checkpoint.pt`` in a pretraining's run folder)
holding a dict of plain data and tensors, so it loads with ``weights_only=True``:

- ``format``, ``format_version``, ``versions`` (bench, torch, numpy, python);
- ``method`` (registered name), ``method_config`` (the config dataclass as a plain dict,
  encoder config included), ``input_spec`` (n_leads, n_samples, sampling_rate of the crops);
- ``model`` (the method's state dict: encoder, heads, EMA target, buffers);
- ``optimizer`` (AdamW state), ``schedule`` (warm-up/cosine parameters), ``step``,
  ``total_steps``, ``finished``, ``elapsed_s``, ``samples_seen``;
- ``rng`` (torch CPU, CUDA, NumPy and Python states; of process 0 under DDP),
  ``rng_other_ranks`` (the same for processes 1..N-1), ``world_size`` (N, 1 without DDP) and
  ``sampler`` (data generator state, epoch, permutation) for exact resumption;
  ``train_config``; ``history`` (per-step columns);
  ``records`` (shape of the training array) and ``info`` (caller's provenance, e.g. run key).

Use a pretrained model in your own code::

    from bench import load_encoder

    encoder = load_encoder("results/pretrain/jepa-<key>/checkpoint.pt", device="cuda")
    with torch.no_grad():
        features = encoder.embed(x)  # x: [B, n_leads, n_samples] float32 -> [B, embed_dim]

``x`` must match the checkpoint's input spec (``load_method(path).input_spec``): the same
sampling rate, lead set and order, crop length and the preprocessing of pretraining.
"""

from __future__ import annotations

import dataclasses
import pickle
import platform
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench import __version__
from bench.atomic import verify_checked, write_checked
from bench.checkpoints.api import PublishedEncoder, load_published
from bench.config import from_dict, to_dict
from bench.encoders.base import Encoder, InputSpec
from bench.errors import CorruptFileError, DataError, UnknownNameError
from bench.method import METHODS, Method

CHECKPOINT_FORMAT = "ecg-ssl-bench/pretrain-checkpoint"
FORMAT_VERSION = 1
REQUIRED_KEYS: tuple[str, ...] = ("method", "method_config", "input_spec", "model")


class CheckpointError(DataError):
    """A checkpoint file is missing, unreadable, corrupt or not one of ours."""


class CorruptCheckpointError(CheckpointError, CorruptFileError):
    """A checkpoint is truncated or altered: it fails its checksum or cannot be unpickled."""


def versions() -> dict[str, str]:
    """Versions of the software that wrote a checkpoint."""
    return {
        "bench": __version__,
        "torch": str(torch.__version__),
        "numpy": str(np.__version__),
        "python": platform.python_version(),
    }


def method_header(method: Method) -> dict[str, Any]:
    """What rebuilds ``method``: its registered name, config as a plain dict and input spec."""
    return {
        "method": method.name,
        "method_config": to_dict(method.config),
        "input_spec": dataclasses.asdict(method.input_spec),
    }


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> Path:
    """Write ``payload`` plus format tag and versions to ``path`` atomically.

    The file is written to a temporary name in the same folder, flushed to disk and renamed
    over ``path``, so a reader (or a crash) never sees a half-written checkpoint; its SHA-256
    goes to the sidecar ``checkpoint.pt.sha256.json`` that ``read_checkpoint`` verifies.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "format": CHECKPOINT_FORMAT,
        "format_version": FORMAT_VERSION,
        "versions": versions(),
        **payload,
    }
    write_checked(path, lambda handle: torch.save(document, handle))
    return path


def read_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint dict (tensors on ``map_location``); CheckpointError when unusable,
    CorruptCheckpointError when it fails its checksum (or, without one, cannot be loaded)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        verify_checked(path)
    except CorruptFileError as error:
        raise CorruptCheckpointError(str(error)) from error
    try:
        document = torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError, zipfile.BadZipFile) as error:
        message = f"checkpoint {path} is unreadable or corrupt: {error}"
        raise CorruptCheckpointError(message) from error
    if not isinstance(document, dict) or document.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not an ecg-ssl-bench pretraining checkpoint")
    if document.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint {path} has format version {document['format_version']}; this "
            f"ecg-ssl-bench reads up to {FORMAT_VERSION}: upgrade the package"
        )
    missing = [key for key in REQUIRED_KEYS if key not in document]
    if missing:
        raise CheckpointError(f"checkpoint {path} lacks {', '.join(missing)}")
    return document


def method_from_checkpoint(document: dict[str, Any], where: str) -> Method:
    """Rebuild the registered method of a loaded checkpoint dict and load its weights."""
    try:
        method_class = METHODS.get(document["method"])
    except UnknownNameError as error:
        raise UnknownNameError(f"checkpoint {where}: {error}") from error
    config = from_dict(
        method_class.config_class, document["method_config"], where=f"{where}: method_config"
    )
    spec = InputSpec(**document["input_spec"])
    with torch.random.fork_rng(devices=[]):  # building must not move the caller's RNG
        method = method_class(config, spec)
    try:
        method.load_state_dict(document["model"])
    except RuntimeError as error:
        raise CheckpointError(
            f"checkpoint {where} does not fit method {document['method']!r}: {error}"
        ) from error
    return method


def load_method(path: str | Path, map_location: str | torch.device = "cpu") -> Method:
    """The pretrained method of checkpoint ``path``, rebuilt by name from ``METHODS``.

    The method is built from the stored config and input spec, its weights loaded, and moved
    to ``map_location``; it stays in training mode (call ``.eval()`` for inference).
    """
    document = read_checkpoint(path, map_location="cpu")
    return method_from_checkpoint(document, str(path)).to(map_location)


def load_encoder(
    source: str | Path, device: str | torch.device = "cpu", weights: str | Path | None = None
) -> Encoder | PublishedEncoder:
    """The pretrained encoder of checkpoint file ``source``, or the published model named
    ``source`` (``bench checkpoints``; ``weights``: its file), on ``device``, in eval mode.

    Ready for ``encoder.embed(x)`` with ``x`` float32 [B, n_leads, n_samples] shaped and
    preprocessed like the pretraining crops (see this module's docstring), or for a published
    model in its official input (``encoder.preprocess(raw, rate)`` makes it from a raw record);
    returns [B, embed_dim]. Wrap calls in ``torch.no_grad()`` unless you fine-tune it.
    """
    if isinstance(source, str) and not Path(source).exists() and source in METHODS:
        return load_published(source, weights, device)
    return load_method(source, map_location=device).encoder.eval()
