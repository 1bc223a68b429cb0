"""``python -m sessionkit``: the ``sessionkit`` command."""

import sys

try:
    from .cli import main
except KeyboardInterrupt:  # Ctrl-C while the package was still importing
    print("sessionkit: interrupted", file=sys.stderr)
    sys.exit(130)

sys.exit(main())
