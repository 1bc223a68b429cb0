"""``python -m sessionkit``: the ``sessionkit`` command."""

import sys

from .cli import main

sys.exit(main())
