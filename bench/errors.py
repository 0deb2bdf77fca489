"""User-facing errors: the CLI prints these as one clear line instead of a traceback."""

from __future__ import annotations


class BenchError(Exception):
    """Base of every error caused by input, configuration or data rather than by a bug."""


class ConfigError(BenchError, ValueError):
    """A configuration value or command-line option is unknown, mistyped or out of range."""


class DataError(BenchError):
    """A dataset file or record is missing, unreadable or inconsistent."""


class CorruptFileError(DataError):
    """A stored file is truncated or altered: it does not match its checksum or cannot be parsed."""


class DiskFullError(BenchError):
    """The disk (or quota) ran out during a write; nothing was left half-written."""


class UnknownNameError(BenchError, KeyError):
    """A name no plugin is registered under; the message carries a 'did you mean' hint."""

    def __str__(self) -> str:
        return str(self.args[0])
