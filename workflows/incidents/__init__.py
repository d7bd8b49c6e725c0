"""The incident flow: declare, run and resolve incidents, and what other flows ask of it.

- ``declare``: declaring (by a person or from an alert group) and the channel becoming ready;
- ``changes``: status, severity, roles, notes and resolving;
- ``reminders``: the update cadence (``incident.remind`` jobs) and snoozing it;
- ``queries``: reads for other flows (deploy policy, alerts, reports) and the timeline;
- ``effects``: the job kinds and views a change enqueues;
- ``watch``: which open incidents hear about a deploy, lock or break-glass of their
  service, their timeline lines and the messages in their channel;
- ``postmortem``: the Markdown draft uploaded on resolve;
- ``visibility``: who may see a (private) incident, the one rule every surface asks;
  ``members``: inviting people (the ``invite`` subcommand);
- ``aftercare``: archiving the channel after resolve (warned first), and reopening;
- ``followups`` and ``trackers``: action items filed once each as GitHub issues or Jira
  tickets.

Nothing here talks to Slack or builds Slack text: the Slack steps are job handlers in
``commands/incidents/slack_jobs.py``, and refusals are typed (``errors``, ``permissions``).
"""
