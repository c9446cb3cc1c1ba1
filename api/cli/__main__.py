"""``python -m api.cli``: the ``passerelles`` command."""

import sys

from api.cli import main

sys.exit(main())
