"""What a process runs is `<PREFIX>PROCESS_ROLES`; the name before it, `<PREFIX>ROLES`, still works through an
upgrade (with a warning naming the new one) and never overrides the new name."""

from __future__ import annotations

import warnings

import pytest

from kc_runtime.settings import ServiceSettings


class Svc(ServiceSettings):
    model_config = {"env_prefix": "SVC_", "extra": "ignore"}


def test_process_roles_come_from_their_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SVC_PROCESS_ROLES", '["api"]')
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the current name warns of nothing
        assert Svc().process_roles == ["api"]


def test_all_roles_run_when_nothing_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SVC_PROCESS_ROLES", raising=False)
    monkeypatch.delenv("SVC_ROLES", raising=False)
    assert Svc().process_roles == ["api", "consumers", "relay"]


@pytest.mark.parametrize("value", ['["consumers", "relay"]', "consumers,relay"])
def test_the_former_name_is_still_read_with_a_warning(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.delenv("SVC_PROCESS_ROLES", raising=False)
    monkeypatch.setenv("SVC_ROLES", value)
    with pytest.warns(FutureWarning, match="SVC_ROLES is deprecated: set SVC_PROCESS_ROLES instead"):
        settings = Svc()
    assert settings.process_roles == ["consumers", "relay"]


def test_the_current_name_wins_over_the_former_which_is_reported_as_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SVC_PROCESS_ROLES", '["api"]')
    monkeypatch.setenv("SVC_ROLES", '["relay"]')
    with pytest.warns(FutureWarning, match="SVC_ROLES is ignored: SVC_PROCESS_ROLES is set"):
        settings = Svc()
    assert settings.process_roles == ["api"]


def test_a_former_value_that_is_no_role_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SVC_PROCESS_ROLES", raising=False)
    monkeypatch.setenv("SVC_ROLES", "api,mailer")
    with pytest.warns(FutureWarning), pytest.raises(ValueError, match="process_roles"):
        Svc()


def test_a_tool_reads_a_services_variables_by_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTHER_KAFKA_BOOTSTRAP_SERVERS", "kafka.example:9093")
    monkeypatch.setenv("OTHER_PROCESS_ROLES", '["relay"]')
    settings = ServiceSettings.under("OTHER_")
    assert settings.kafka_bootstrap_servers == "kafka.example:9093"
    assert settings.process_roles == ["relay"]
