"""Sub-commands of ``bench``; each module defines ``add_parser(subparsers)``."""

from bench.commands import data, fractions, listing, perf, pretrain, report, run, tune

COMMAND_MODULES = [listing, data, fractions, pretrain, run, report, perf, tune]
