"""Sub-commands of ``bench``; each module defines ``add_parser(subparsers)``."""

from bench.commands import data, fractions, listing, pretrain, report, run

COMMAND_MODULES = [listing, data, fractions, pretrain, run, report]
