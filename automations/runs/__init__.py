"""Runs: executing one occurrence (``execution``), recovering lost ones (``reaper``),
deleting old ones (``retention``) and counting finished ones for pages and /metrics (``tallies``)."""
