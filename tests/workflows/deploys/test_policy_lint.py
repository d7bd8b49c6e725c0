"""check-config's unreachable-quorum warnings, from the config alone."""

from __future__ import annotations

from typing import Any

from tests.workflows.deploys.conftest import config_from, example_data
from workflows.deploys.policy import UnreachableQuorum, unreachable_quorums


def _two_sre() -> dict[str, Any]:
    data = example_data()
    data["groups"]["sre"]["users"] = ["U0BOB", "U0CAROL"]
    return data


def test_the_example_has_no_unreachable_quorum() -> None:
    assert unreachable_quorums(config_from(example_data())) == []


def test_an_approver_who_may_ask_leaves_too_few() -> None:
    (warning,) = unreachable_quorums(config_from(_two_sre()))
    assert warning == UnreachableQuorum(
        "environments.production.approval", 2, frozenset({"U0BOB", "U0CAROL"}), "U0BOB", 1
    )


def test_no_warning_when_approvers_may_not_ask_or_may_approve_their_own() -> None:
    data = _two_sre()
    data["environments"]["production"]["deployers"] = ["developers"]  # alice only
    assert unreachable_quorums(config_from(data)) == []
    data = _two_sre()
    data["environments"]["production"]["approval"]["allow_self_approval"] = True
    assert unreachable_quorums(config_from(data)) == []


def test_too_few_approvers_for_anyone() -> None:
    data = example_data()
    data["environments"]["production"]["approval"]["required"] = 4
    (warning,) = unreachable_quorums(config_from(data))
    assert (warning.requester, warning.eligible) == (None, 3)


def test_a_slack_user_group_among_deployers_may_hold_an_approver() -> None:
    data = _two_sre()
    data["groups"]["releasers"] = {"usergroups": ["S0RELEASE"]}
    data["environments"]["production"]["deployers"] = ["releasers"]
    (warning,) = unreachable_quorums(config_from(data))
    assert warning.requester == "U0BOB"
