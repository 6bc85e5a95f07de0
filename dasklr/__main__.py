"""``python -m dasklr`` is the ``dasklr`` command."""

import sys

from dasklr.cli import main

sys.exit(main())
