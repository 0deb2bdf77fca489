"""Sub-commands of ``bench``; each module defines ``add_parser(subparsers)``.

The top of the engine: a command may import any stage (tuning, reporting, tracking, perf, grid,
evaluation, training) and everything below; nothing but ``bench.cli`` imports a command.
"""

from bench.commands import (
    check,
    checkpoints,
    data,
    fractions,
    listing,
    mlflow_ui,
    perf,
    plan,
    pretrain,
    report,
    report_page,
    run,
    tune,
)

COMMAND_MODULES = [
    listing,
    data,
    fractions,
    pretrain,
    run,
    plan,
    check,
    checkpoints,
    report,
    report_page,
    mlflow_ui,
    perf,
    tune,
]
