"""The `ictc` command line: parser, subcommands, progress bars and the terminal review."""

from ictc.cli.main import main

__all__ = ["main"]
