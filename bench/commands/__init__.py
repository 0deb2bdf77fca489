"""Sub-commands of ``bench``; each module defines ``add_parser(subparsers)``."""

from bench.commands import data, fractions, listing, pretrain, report

COMMAND_MODULES = [listing, data, fractions, report, pretrain]
