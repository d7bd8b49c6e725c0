"""Tables of alert intake: alert groups (one Slack message each) and the alerts in them."""

from __future__ import annotations
