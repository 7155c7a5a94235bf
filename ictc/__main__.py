"""`python -m ictc`: the same as the `ictc` command (a newcomer's first try had been "'ictc' is a package and
cannot be directly executed")."""

import sys

from ictc.cli.main import main

sys.exit(main())
