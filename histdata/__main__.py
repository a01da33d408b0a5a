"""``python -m histdata``: what ``sim data fetch`` runs (docs/data.md)."""

import sys

from histdata.fetch import main

sys.exit(main())
