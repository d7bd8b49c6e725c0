"""Tables of scheduled reports: one row per claimed fire time, so a report posts once."""

from __future__ import annotations
