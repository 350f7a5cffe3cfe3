"""The rendered Alertmanager configuration, run by the real Alertmanager (Debian's) on loopback against the
SNS stand-in, which checks each call's SigV4 signature: amtool accepts it and routes every alert the rules
can raise; alerts that fire together are one message; a page quiets the ticket of the same burn; the
heartbeat goes to its own topic; a resolved page is told."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import boto3
import pytest
from botocore.exceptions import ClientError

from layers.observability.alert_rules import WATCHDOG, rule_groups
from layers.observability.alertmanager_config import (
    ALARM_RECEIVER,
    HEARTBEAT_RECEIVER,
    render_alertmanager_config,
    ticket_wait_seconds,
)
from platform_spec import PlatformSpec
from platform_spec.objectives import PAGE, TICKET
from platform_spec.profiles import PROFILES
from platform_spec.schedule import DAYS, RunSchedule
from tests.discovery.sns_standin import (
    ACCESS_KEY,
    ALARM_TOPIC,
    HEARTBEAT_TOPIC,
    SECRET_KEY,
    SIGNING_ENVIRONMENT,
    SnsStandIn,
    alertmanager_command,
)
from tests.variants import every_kind_variant
from tools.local_services import free_port

ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
AMTOOL = shutil.which("amtool")
SPECS: dict[str, Callable[[], PlatformSpec]] = {**PROFILES, "every kind": lambda: every_kind_variant(PROFILES["dev"]())}


def _tool(path: str | None, name: str) -> str:
    if path is None:
        pytest.fail(f"{name} is missing: `make test` installs Debian's prometheus-alertmanager package")
    return path


def _config(spec: PlatformSpec, **overrides: str) -> str:
    region = spec.region
    return render_alertmanager_config(
        spec,
        alarm_topic_arn=ALARM_TOPIC.format(region=region),
        heartbeat_topic_arn=HEARTBEAT_TOPIC.format(region=region),
        **overrides,
    )


@pytest.mark.parametrize("name", SPECS)
def test_amtool_accepts_the_configuration_and_routes_every_alert(name: str, tmp_path: Path) -> None:
    spec = SPECS[name]()
    config = tmp_path / "alertmanager.yml"
    config.write_text(_config(spec))
    amtool = _tool(AMTOOL, "amtool")
    checked = subprocess.run([amtool, "check-config", str(config)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    external = {"project": spec.project, "environment": spec.environment}
    alerts = [
        {**external, "alertname": rule["alert"], **rule["labels"]}
        for group in rule_groups(spec)["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]
    assert len(alerts) > len(spec.scraped_services)
    for labels in alerts:
        routed = subprocess.run(
            [amtool, "config", "routes", "test", f"--config.file={config}", *(f"{k}={v}" for k, v in labels.items())],
            capture_output=True,
            text=True,
            check=False,
        )
        expected = HEARTBEAT_RECEIVER if labels["alertname"] == WATCHDOG else ALARM_RECEIVER
        assert routed.stdout.strip() == expected, f"{labels}: {routed.stdout}{routed.stderr}"


def test_the_stand_in_refuses_a_call_signed_with_other_credentials() -> None:
    """The stand-in's check is SNS's: botocore's own signature passes, one made with another secret
    or for another region does not."""
    stand_in = SnsStandIn(host="127.0.0.1", region="us-east-1")
    stand_in.start()
    try:
        for secret, region, accepted in (
            (SECRET_KEY, "us-east-1", True),
            ("wrong", "us-east-1", False),
            (SECRET_KEY, "eu-west-1", False),
        ):
            client = boto3.client(
                "sns",
                region_name=region,
                endpoint_url=stand_in.url,
                aws_access_key_id=ACCESS_KEY,
                aws_secret_access_key=secret,
            )
            publish = partial(
                client.publish, TopicArn=ALARM_TOPIC.format(region=region), Message="hello", Subject="test"
            )
            if accepted:
                publish()
            else:
                with pytest.raises(ClientError, match="SignatureDoesNotMatch"):
                    publish()
        assert [call.signed for call in stand_in.calls] == [True, False, False]
    finally:
        stand_in.stop()


@contextlib.contextmanager
def _alertmanager(spec: PlatformSpec, directory: Path) -> Iterator[tuple[PlatformSpec, SnsStandIn, str]]:
    """The real Alertmanager with ``spec``'s configuration, publishing to the stand-in."""
    stand_in = SnsStandIn(host="127.0.0.1", region=spec.region)
    stand_in.start()
    config = directory / "alertmanager.yml"
    config.write_text(_config(spec, api_url=stand_in.url))
    port = free_port()
    log = (directory / "alertmanager.log").open("w")
    command = alertmanager_command(
        _tool(ALERTMANAGER, "alertmanager"),
        config=str(config),
        data=str(directory / "data"),
        listen=f"127.0.0.1:{port}",
    )
    process = subprocess.Popen(command, stdout=log, stderr=log, env=SIGNING_ENVIRONMENT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(lambda: _ready(url), "Alertmanager to start", directory / "alertmanager.log")
        yield spec, stand_in, url
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()
        stand_in.stop()


def _short_waits(spec: PlatformSpec) -> PlatformSpec:
    return dataclasses.replace(
        spec, alertmanager=dataclasses.replace(spec.alertmanager, group_wait_seconds=4, group_interval_seconds=3)
    )


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[PlatformSpec, SnsStandIn, str]]:
    """Alertmanager with dev's configuration (its waits short), publishing to the stand-in. Without
    dev's schedule: the grouping holds at any hour (the sleep has its own test below)."""
    with _alertmanager(dataclasses.replace(_short_waits(PROFILES["dev"]()), schedule=None), tmp_path) as running:
        yield running


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _wait(condition: Callable[[], bool], what: str, log: Path | None = None, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    pytest.fail(f"waited {timeout} s for {what}" + (f"\n{log.read_text()[-3000:]}" if log else ""))


def _post(url: str, alerts: list[dict[str, Any]]) -> None:
    request = urllib.request.Request(
        f"{url}/api/v2/alerts", data=json.dumps(alerts).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200


def _alert(
    spec: PlatformSpec, labels: dict[str, str], *, resolved: bool = False, started_ago_seconds: int = 60
) -> dict[str, Any]:
    """An alert as Prometheus posts it. One that started more than the group wait ago is sent the
    moment its group is made (Alertmanager's dispatch.go, aggrGroup.insert: "Immediately trigger a
    flush if the wait duration for this alert is already over"), before the rest of its batch is in."""
    now = time.time()
    alert: dict[str, Any] = {
        "labels": {"project": spec.project, "environment": spec.environment, **labels},
        "annotations": {"summary": f"{labels.get('service', '')} summary", "description": "description"},
        "startsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - started_ago_seconds)),
    }
    if resolved:
        alert["endsAt"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 1))
    return alert


def test_what_fires_together_is_one_signed_message_and_a_page_quiets_its_ticket(
    running: tuple[PlatformSpec, SnsStandIn, str],
) -> None:
    spec, stand_in, url = running
    first, second = spec.services[0].name, spec.services[1].name
    burn = {"alertname": "AvailabilityBudgetBurn", "objective": "availability"}
    # Just started, as a rule's alerts are when they begin to fire: each group waits its group wait,
    # so whether the batch is one message does not hang on how fast Alertmanager takes it in.
    firing = [
        _alert(spec, {**burn, "service": first, "severity": PAGE}, started_ago_seconds=0),
        _alert(spec, {**burn, "service": first, "severity": TICKET}, started_ago_seconds=0),
        _alert(spec, {**burn, "service": second, "severity": PAGE}, started_ago_seconds=0),
        _alert(spec, {"alertname": WATCHDOG, "severity": "heartbeat"}, started_ago_seconds=0),
    ]
    _post(url, firing)
    alarms = ALARM_TOPIC.format(region=spec.region)

    def published(topic: str) -> list[str]:
        return [call.message for call in stand_in.calls if call.topic_arn == topic]

    posted = time.monotonic()
    _wait(lambda: bool(published(alarms)), "the page to be published")
    _wait(lambda: bool(published(HEARTBEAT_TOPIC.format(region=spec.region))), "the heartbeat to be published")
    # Past the ticket's own wait, and a group interval more: a ticket that was not quieted is sent by then.
    time.sleep(
        max(0.0, posted + ticket_wait_seconds(spec) + spec.alertmanager.group_interval_seconds + 1 - time.monotonic())
    )
    assert all(call.signed for call in stand_in.calls), [c.reason for c in stand_in.calls if not c.signed]
    # Alertmanager delivers at least once: on a busy machine a slow answer makes it send the same
    # notification again. What matters is that what fired together is one notification.
    messages = list(dict.fromkeys(published(alarms)))
    assert len(messages) == 1, "\n---\n".join(messages)
    (message,) = messages
    for service in (first, second):
        assert f"FIRING AvailabilityBudgetBurn: service {service}, objective availability (page)" in message
    assert "(ticket)" not in message, "the page quiets the ticket of the same service and objective"
    assert WATCHDOG not in message
    # The burn ends: one message tells it, for both services.
    _post(
        url,
        [_alert(spec, {**burn, "service": s, "severity": PAGE}, resolved=True) for s in (first, second)]
        + [firing[1], firing[3]],
    )
    _wait(lambda: any("RESOLVED" in m for m in published(alarms)), "the resolved page to be published")
    resolved = next(m for m in published(alarms) if "RESOLVED" in m)
    assert f"RESOLVED AvailabilityBudgetBurn: service {first}, objective availability (page)" in resolved


def _schedule_around_now(*, awake: bool) -> RunSchedule:
    """A schedule whose zone's clock reads about noon now: awake, today from two hours before to
    two hours after; asleep, every other day of the week."""
    now = datetime.now(UTC)
    offset = 12 - now.hour  # Etc/GMT-N is N hours ahead of UTC; -12..+14 covers every hour
    zone = f"Etc/GMT{'-' if offset >= 0 else '+'}{abs(offset)}"
    local = now.astimezone(ZoneInfo(zone))
    today = DAYS[local.weekday()]
    if awake:
        return RunSchedule(
            days=(today,), starts=f"{local.hour - 2:02d}:00", ends=f"{local.hour + 2:02d}:00", time_zone=zone
        )
    return RunSchedule(days=tuple(d for d in DAYS if d != today), time_zone=zone)


@pytest.mark.parametrize("awake", [True, False], ids=["inside the window", "asleep"])
def test_a_sleeping_profile_is_told_nothing_but_its_heartbeat(awake: bool, tmp_path: Path) -> None:
    """Pages and tickets are muted while a scheduled profile sleeps (and told inside its window);
    the heartbeat is not muted."""
    spec = dataclasses.replace(_short_waits(PROFILES["dev"]()), schedule=_schedule_around_now(awake=awake))
    assert spec.schedule is not None
    assert spec.schedule.is_awake(datetime.now(UTC)) is awake
    with _alertmanager(spec, tmp_path) as (_, stand_in, url):
        service = spec.services[0].name
        burn = {"alertname": "AvailabilityBudgetBurn", "objective": "availability", "service": service}
        _post(
            url,
            [
                _alert(spec, {**burn, "severity": PAGE}),
                _alert(spec, {**burn, "objective": "latency", "severity": TICKET}),
                _alert(spec, {"alertname": WATCHDOG, "severity": "heartbeat"}),
            ],
        )
        heartbeat, alarms = (topic.format(region=spec.region) for topic in (HEARTBEAT_TOPIC, ALARM_TOPIC))
        posted = time.monotonic()
        _wait(lambda: any(c.topic_arn == heartbeat for c in stand_in.calls), "the heartbeat to be published")
        if awake:
            _wait(lambda: any(c.topic_arn == alarms for c in stand_in.calls), "the page to be published")
            return
        # Past the ticket's wait and two group intervals: an unmuted page or ticket is sent by then.
        time.sleep(
            max(
                0.0,
                posted + ticket_wait_seconds(spec) + 2 * spec.alertmanager.group_interval_seconds - time.monotonic(),
            )
        )
        assert [c.message for c in stand_in.calls if c.topic_arn == alarms] == []
