"""The App Home: what one person's Home tab shows (``data``), built from stored state,
and when it is re-published (``refresh``: a change enqueues a fan-out, the fan-out asks
for each affected person's Home, paced and coalesced like every message render)."""
