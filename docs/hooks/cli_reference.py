"""MkDocs hook: the marker ``<!-- cli-reference -->`` becomes the help of every ``bench`` command,
rendered from ``bench.cli.build_parser()`` (so the reference is never retyped)."""

from __future__ import annotations

import argparse
from typing import Any

MARKER = "<!-- cli-reference -->"


def on_page_markdown(markdown: str, **_: Any) -> str:
    """Replace the marker with the rendered parsers."""
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, render_cli())


def render_cli() -> str:
    """``bench -h`` and each sub-command's help as Markdown sections."""
    from bench.cli import build_parser

    parser = build_parser()
    sections = ["## bench\n", _help_block(parser)]
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, command in sorted(commands.choices.items()):
        sections += [f"## bench {name}\n", _help_block(command)]
    return "\n".join(sections)


def _help_block(parser: argparse.ArgumentParser) -> str:
    parser.formatter_class = lambda prog: argparse.HelpFormatter(prog, width=100)
    return f"```text\n{parser.format_help()}```\n"
