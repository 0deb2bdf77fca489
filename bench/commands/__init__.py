"""Sub-commands of ``bench``; each module defines ``add_parser(subparsers)``."""

from bench.commands import listing

COMMAND_MODULES = [listing]
