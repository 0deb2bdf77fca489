"""ECG SSL benchmark: methods x tasks x label fractions under one controlled protocol."""

__version__ = "0.1.0"
