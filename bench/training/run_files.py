"""Names of the files a pretraining run folder holds, importable without torch, so that
``bench check`` and the reporting commands find them without loading the loop."""

from __future__ import annotations

CHECKPOINT_NAME = "checkpoint.pt"
HISTORY_NAME = "history.csv"
