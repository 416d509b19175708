"""``python -m helpers._support.models`` (``make models``): the catalogue and today's defaults."""

import sys

from . import main

sys.exit(main())
