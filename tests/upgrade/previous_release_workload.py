# ruff: noqa: E402, I001  (0.2.0 modules, imported after checking which tree they come from)
"""A fixed workload written against shipbot 0.2.0's own store functions (the N-1 release).

Run by tests/upgrade/test_n_minus_1.py as a separate Python process whose ``workflows``
package is the one extracted from the 0.2.0 commit (``git archive``), never this tree's:
it is what a 0.2.0 replica does while a 0.3.0 replica beside it has upgraded the schema.
Each step is a write or read 0.2.0 makes in production: jobs, deliveries, audit, deploys
with approvals, incidents, alert intake. Any exception fails the process.

Usage: python previous_release_workload.py EXPECTED_ROOT DATABASE_URL CONFIG TAG
"""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path

import workflows

expected_root, url, config_path, tag = sys.argv[1:5]
if not Path(workflows.__file__).resolve().is_relative_to(Path(expected_root).resolve()):
    sys.exit(f"imported workflows from {workflows.__file__}, not the 0.2.0 tree")

from sqlmodel import select

from workflows import audit, jobs
from workflows.alerts.receive import receive
from workflows.clock import SystemClock
from workflows.config import load_config
from workflows.delivery import claim_delivery, was_delivered
from workflows.deploys.decisions import cancel, decide
from workflows.deploys.directory import NoDirectory
from workflows.deploys.requests import DeployAsk, Ports, request_deploy
from workflows.incidents.declare import declare
from workflows.store.db import Database
from workflows.store.deploy_models import ApprovalDecision, Deploy

database = Database(url)
clock = SystemClock()
config = load_config(Path(config_path))
ports = Ports(clock=clock, config=config, directory=NoDirectory())

with database.transaction() as session:
    jobs.enqueue(session=session, clock=clock, kind="n1.noop", payload={"tag": tag},
                 idempotency_key=f"n1:{tag}:job")
# Earlier runs left their flows' jobs (renders, reminders) due: claim and complete jobs
# until this run's own comes up, as a 0.2.0 worker would work through the queue.
for _ in range(100):
    job = jobs.claim(database=database, clock=clock, owner=f"n1-{tag}",
                     lease=timedelta(seconds=60))
    assert job is not None, "the job just enqueued was never claimed"
    assert jobs.complete(database=database, clock=clock, job_id=job.id, owner=f"n1-{tag}")
    if job.idempotency_key == f"n1:{tag}:job":
        break
else:
    raise AssertionError("the job just enqueued was never claimed")

with database.transaction() as session:
    claim_delivery(session=session, clock=clock, key=f"n1:{tag}:delivery", source="slack")
with database.read_session() as session:
    assert was_delivered(session=session, key=f"n1:{tag}:delivery")
    assert jobs.counts_by_state(session=session).get("succeeded", 0) >= 1

with database.transaction() as session:
    deploy = request_deploy(session=session, ports=ports, ask=DeployAsk(
        service="web", environment="production", version=f"1.0.0-{tag}", user="U0ALICE",
        reason="N-1 check", channel="C0DEPLOYS", delivery_key=f"n1:{tag}:ask"))
    deploy_id = deploy.id
for approver in ("U0BOB", "U0CAROL"):
    with database.transaction() as session:
        decide(session=session, ports=ports, deploy_id=deploy_id, user=approver,
               decision=ApprovalDecision.approve, version=f"1.0.0-{tag}",
               delivery_key=f"n1:{tag}:approve:{approver}")
with database.read_session() as session:
    stored = session.exec(select(Deploy).where(Deploy.id == deploy_id)).one()
    assert stored.state == "approved", stored.state
with database.transaction() as session:  # one deploy at a time: leave none waiting
    cancelled = cancel(session=session, ports=ports, deploy_id=deploy_id, user="U0ALICE",
                       delivery_key=f"n1:{tag}:cancel")
    assert cancelled.state == "cancelled", cancelled.state

with database.transaction() as session:
    incident = declare(session=session, clock=clock, config=config, actor="U0ALICE",
                       severity="SEV3", title=f"N-1 check {tag}", service="web",
                       delivery_key=f"n1:{tag}:declare")
body = json.dumps({"version": "4", "status": "firing", "receiver": "shipbot", "alerts": [{
    "status": "firing", "labels": {"alertname": f"N1{tag}", "service": "web"},
    "annotations": {"summary": "N-1 check"}, "startsAt": "2026-11-30T10:00:00Z",
    "fingerprint": f"n1{tag}"}]}).encode()
outcome = receive(database=database, clock=clock, config=config, source="alertmanager",
                  body=body, headers={"authorization": "Bearer dev-alerts-token"})
assert outcome.result is not None and outcome.result.firing == 1, outcome

with database.read_session() as session:
    report = audit.verify(session=session, expected_head=None)
    assert report.ok, report.problem
print(f"0.2.0 workload {tag!r} ok: deploy {deploy_id}, incident {incident.id}, "
      f"audit {report.entries} entries")
