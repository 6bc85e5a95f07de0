"""``python -m dasklr`` is the ``dasklr`` command."""

import sys

from dasklr.cli.main import main

sys.exit(main())
