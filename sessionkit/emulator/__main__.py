"""``python -m sessionkit.emulator``: run the emulator (same options as ``sessionkit emulator``)."""

import sys

from ._cli import main

sys.exit(main())
