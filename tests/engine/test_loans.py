"""The demo process, examples/loans/loan_application.yaml, end to end."""

from __future__ import annotations

import pytest

from procflow.engine.start import check_start_data, choose_start_node
from procflow.model.errors import MandatoryParamsMissing
from procflow.model.states import InstanceState, NodeStatus, TokenState
from tests.engine.conftest import Scenario, audit_types, loan_definition


def application(name: str = "Ann", amount: int = 3000, income: int = 1000) -> dict[str, object]:
    return {"applicant": {"name": name, "income": income}, "loan": {"amount": amount}}


def started(data: dict[str, object]) -> Scenario:
    definition = loan_definition()
    start = choose_start_node(definition, data)
    check_start_data(start, data)
    scenario = Scenario(definition, data)
    scenario.start(start.id)
    return scenario


def test_medium_risk_runs_the_checks_and_waits_for_the_underwriter() -> None:
    scenario = started(application())
    assert scenario.state() is InstanceState.STARTED
    assert scenario.waiting() == [("review", NodeStatus.ARRIVED)]
    assert scenario.data["risk"] == {"ratio": 3.0, "band": "medium"}
    assert scenario.data["checks"] == {"bureau": "clear", "fraud": "clear"}
    assert audit_types(scenario.results[0]) == [
        "instance_started",
        "task_executed",
        "gateway_decided",
        "gateway_forked",
        "task_executed",
        "task_executed",
        "gateway_joined",
        "token_arrived",
    ]


def test_approve_path() -> None:
    scenario = started(application(amount=500))
    assert scenario.data["risk"]["band"] == "low"
    scenario.act("review", "approve", {"decision": {"underwriter": "bob", "rate": 4.5}})
    assert scenario.state() is InstanceState.FINISHED
    assert scenario.instance.tokens[0].node_id == "approved"
    assert scenario.data["decision"] == {"underwriter": "bob", "rate": 4.5}


def test_reject_path_with_a_fraud_flag() -> None:
    scenario = started(application(name="Mallory"))
    assert scenario.data["checks"]["fraud"] == "flagged"
    scenario.act("review", "reject", {"decision": {"reason": "fraud"}})
    assert scenario.state() is InstanceState.FINISHED
    assert scenario.instance.tokens[0].node_id == "rejected"


def test_high_risk_is_rejected_automatically() -> None:
    scenario = started(application(amount=10_000, income=1000))
    assert scenario.state() is InstanceState.FINISHED
    assert scenario.data["risk"] == {"ratio": 10.0, "band": "high"}
    assert "checks" not in scenario.data
    [token] = scenario.instance.tokens
    assert (token.node_id, token.state) == ("auto_rejected", TokenState.INACTIVE)


def test_zero_income_is_an_incident_not_a_crash() -> None:
    # CEL doubles divide to infinity; JSON cannot hold it, so the task fails cleanly.
    scenario = started(application(income=0))
    assert scenario.state() is InstanceState.FAILED
    assert scenario.instance.incidents[0].node_id == "score"


def test_missing_mandatory_params_are_refused_before_the_engine_runs() -> None:
    with pytest.raises(MandatoryParamsMissing):
        started({"applicant": {"name": "Ann"}})
