"""The Argo Rollouts controller's canary steps, one step per tick (see ``kube_controllers``).

Status fields are the ones ``kubectl argo rollouts get rollout`` reads: ``currentPodHash``,
``stableRS``, ``currentStepIndex``, ``pauseConditions`` + ``controllerPause``, ``abort``,
``phase``/``message``, ``canary.weights`` and ``canary.currentStepAnalysisRunStatus``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tests.fakes.kube_controllers import images, template_hash

_UNITS = {"s": 1, "m": 60, "h": 3600}


def _seconds(duration: Any) -> float:
    if isinstance(duration, int | float):
        return float(duration)
    text = str(duration)
    return float(text[:-1]) * _UNITS[text[-1]] if text[-1] in _UNITS else float(text)


def _set_weight(status: dict[str, Any], weight: int) -> None:
    status.setdefault("canary", {})["weights"] = {
        "canary": {"weight": weight, "podTemplateHash": status.get("currentPodHash")},
        "stable": {"weight": 100 - weight, "podTemplateHash": status.get("stableRS")},
    }


def _phase(status: dict[str, Any], phase: str, message: str = "") -> None:
    status["phase"], status["message"] = phase, message


def step_rollout(
    rollout: dict[str, Any], *, now: datetime, timestamp: str, failing_analysis: set[str]
) -> None:
    meta, spec, status = rollout["metadata"], rollout["spec"], rollout["status"]
    steps = ((spec.get("strategy") or {}).get("canary") or {}).get("steps") or []
    replicas = spec.get("replicas", 1)
    pod_hash = template_hash(spec["template"])
    status["observedGeneration"] = str(meta["generation"])  # a string in Argo Rollouts
    status["replicas"] = status["availableReplicas"] = status["readyReplicas"] = replicas
    if status.get("currentPodHash") != pod_hash:
        status["currentPodHash"] = pod_hash
        status.update(currentStepIndex=0, abort=False, pauseConditions=None, controllerPause=False)
        status.setdefault("canary", {}).pop("currentStepAnalysisRunStatus", None)
        if not status.get("stableRS"):  # the first revision skips the steps
            status["stableRS"], status["currentStepIndex"] = pod_hash, len(steps)
    if pod_hash == status.get("stableRS"):
        # Fully promoted, first revision, or rolled back to stable ("rollback within window").
        status.update(currentStepIndex=len(steps), abort=False, pauseConditions=None)
        status["updatedReplicas"] = replicas
        _set_weight(status, 100 if status.get("currentStepIndex") else 0)
        status["canary"]["weights"]["canary"]["weight"] = 0
        _phase(status, "Healthy")
        return
    if status.get("abort"):
        status.setdefault("abortedAt", timestamp)
        _set_weight(status, 0)
        _phase(
            status,
            "Degraded",
            f"RolloutAborted: Rollout aborted update to revision {meta['generation']}",
        )
        return
    index = status.get("currentStepIndex") or 0
    status["updatedReplicas"] = 0
    if index >= len(steps):
        status["stableRS"] = pod_hash
        return step_rollout(
            rollout, now=now, timestamp=timestamp, failing_analysis=failing_analysis
        )
    _run_step(rollout, steps[index], now=now, timestamp=timestamp, failing=failing_analysis)


def _run_step(
    rollout: dict[str, Any],
    step: dict[str, Any],
    *,
    now: datetime,
    timestamp: str,
    failing: set[str],
) -> None:
    status = rollout["status"]
    index = status["currentStepIndex"]
    if "setWeight" in step:
        _set_weight(status, int(step["setWeight"]))
        status["currentStepIndex"] = index + 1
        _phase(status, "Progressing", "more replicas need to be updated")
    elif "pause" in step:
        _pause(status, step["pause"] or {}, now=now, timestamp=timestamp)
    elif "analysis" in step:
        canary = status.setdefault("canary", {})
        run = canary.get("currentStepAnalysisRunStatus")
        name = f"{rollout['metadata']['name']}-{status['currentPodHash']}-{index}"
        if run is None or run.get("name") != name:
            canary["currentStepAnalysisRunStatus"] = {"name": name, "status": "Running"}
            _phase(status, "Progressing", "waiting for analysis to complete")
        elif images(rollout["spec"]["template"]) & failing:
            run.update(status="Failed", message='metric "success-rate" assessed Failed')
            status["abort"] = True
            _phase(status, "Degraded", 'RolloutAborted: metric "success-rate" assessed Failed')
        else:
            run["status"] = "Successful"
            status["currentStepIndex"] = index + 1
    else:
        status["currentStepIndex"] = index + 1


def _pause(status: dict[str, Any], pause: dict[str, Any], *, now: datetime, timestamp: str) -> None:
    conditions = status.get("pauseConditions") or []
    if status.get("controllerPause") and not conditions:
        # A promote cleared the pause conditions: this step is done.
        status.update(controllerPause=False, currentStepIndex=status["currentStepIndex"] + 1)
        _phase(status, "Progressing", "more replicas need to be updated")
        return
    if not status.get("controllerPause"):
        status["controllerPause"] = True
        status["pauseConditions"] = [{"reason": "CanaryPauseStep", "startTime": timestamp}]
        _phase(status, "Paused", "CanaryPauseStep")
        return
    if "duration" in pause:
        started = datetime.fromisoformat(conditions[0]["startTime"].replace("Z", "+00:00"))
        if now - started >= timedelta(seconds=_seconds(pause["duration"])):
            status["pauseConditions"] = None
