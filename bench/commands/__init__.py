"""Sub-commands of ``bench``; each module defines ``add_parser(subparsers)``.

The top of the engine: a command may import any stage (tuning, reporting, tracking, perf, grid,
evaluation, training) and everything below; nothing but ``bench.cli`` imports a command.
"""

from bench.commands import data, fractions, listing, perf, pretrain, report, run, tune

COMMAND_MODULES = [listing, data, fractions, pretrain, run, report, perf, tune]
