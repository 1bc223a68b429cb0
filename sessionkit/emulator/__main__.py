"""``python -m sessionkit.emulator``: run the emulator (same options as ``sessionkit emulator``,
which :mod:`sessionkit.cli.emulator` defines)."""

import sys

from ..cli import emulator, run_standalone

sys.exit(run_standalone(emulator.COMMAND))
