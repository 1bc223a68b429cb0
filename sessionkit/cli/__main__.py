"""``python -m sessionkit.cli``: the ``sessionkit`` command."""

import sys

from . import main

sys.exit(main())
