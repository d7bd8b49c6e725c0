"""Imports every table module, so ``SQLModel.metadata`` knows the whole schema (Alembic)."""

from workflows.store import (  # noqa: F401
    alert_models,
    deploy_models,
    incident_models,
    models,
    report_models,
)
