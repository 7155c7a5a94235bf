"""`python -m ictc.cli`: the same as the `ictc` command."""

import sys

from ictc.cli.main import main

sys.exit(main())
