"""``python -m tensorly_das``: the same as the ``tensorly-das`` command."""

import sys

from .cli import main

sys.exit(main())
