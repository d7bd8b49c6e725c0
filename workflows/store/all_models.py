"""Imports every table module, so ``SQLModel.metadata`` knows the whole schema (Alembic)."""

import workflows.alerts.models
import workflows.deploys.models
import workflows.external.models
import workflows.incidents.models
import workflows.oncall.models
import workflows.reports.models
import workflows.store.models  # noqa: F401
