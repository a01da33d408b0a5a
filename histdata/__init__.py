"""History fetch into the local bar catalog (``sim data fetch``).

Its own floor above ``sim`` and ``gateway`` (docs/architecture.md): it writes
``sim``'s catalog with ``gateway``'s credentials and IB pacer, and neither of
them imports it; ``sim data fetch`` runs it as ``python -m histdata``.
"""
