"""Events from outside shipbot: GitHub and Argo CD webhooks, and the import of past
deploys. Parsing, dedupe and storage live here and return typed data; commands/deploys
renders the messages (docs/notifications.md)."""
