"""Downloading the checkpoints hosted on the Hugging Face hub, failing fast when offline."""

from __future__ import annotations

from pathlib import Path

from bench.checkpoints.card import ModelCard
from bench.checkpoints.weights import WEIGHTS_DIR_ENV
from bench.errors import DataError


def hub_url(card: ModelCard) -> str:
    """The file's address on the hub."""
    return f"https://huggingface.co/{card.hf_repo}/resolve/main/{card.hf_filename}"


def fetch(name: str, card: ModelCard, timeout_s: float = 10.0) -> Path:
    """Download ``card``'s file into the hub cache; DataError with the URL and where to put the
    file when the hub cannot be reached (one quick try, no retries)."""
    if not (card.hf_repo and card.hf_filename):
        raise DataError(
            f"{name} is not hosted on the Hugging Face hub; download {card.file_name!r} from "
            f"{card.url} and put it in ${WEIGHTS_DIR_ENV} (or pass --weights {name}=PATH)"
        )
    from huggingface_hub import constants, hf_hub_download

    constants.HF_HUB_ETAG_TIMEOUT = timeout_s
    constants.HF_HUB_DOWNLOAD_TIMEOUT = timeout_s
    try:
        return Path(hf_hub_download(card.hf_repo, card.hf_filename, etag_timeout=timeout_s))
    except Exception as error:  # offline, DNS, proxy, 404: all end in the same advice
        raise DataError(
            f"{name}: could not download {hub_url(card)} ({type(error).__name__}). Download it "
            f"on a machine with internet and put it in ${WEIGHTS_DIR_ENV}/{card.file_name}, "
            f"or pass --weights {name}=PATH"
        ) from error
