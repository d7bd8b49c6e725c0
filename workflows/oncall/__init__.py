"""On-call: who is on call now and next (PagerDuty, Opsgenie, a static rotation), the
on-call people of a severity invited into an incident's channel, and paging through
PagerDuty's Events API v2. Typed data only; ``commands/oncall`` renders it."""
