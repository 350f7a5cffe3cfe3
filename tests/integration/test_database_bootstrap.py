"""The database bootstrap, run for real: the command and SQL of the synthesized task, executed
against PostgreSQL as an RDS-like master user, twice; then what each user may do.

It runs on the major version RDS runs (the spec's ``database.engine_version``): from 16 on,
PostgreSQL gives the role that creates a role ADMIN membership in it, so the master's
memberships on RDS differ from those on Debian's 15. Debian's 15 still checks what needs
pgaudit, which only Debian ships here.

The master on RDS is no superuser: a member of rds_superuser with CREATEROLE, which may grant
rds_iam. The test's master is the same: a CREATEROLE login that may grant rds_iam."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest

from aws_model.iam import Principal, Request, evaluate
from layers.compute.database_bootstrap import CONTAINER
from layers.shared.rendered_config import render_database_bootstrap
from platform_spec.names import COMPUTE, DATA, DELIVERY
from platform_spec.profiles import dev
from tests.deploy_hooks import load_hook
from tests.platform_synth import Synthesized
from tests.postgres import MASTER, Postgres, PostgresError, binaries_for, rds_like_database, running_postgres
from tests.reference_services import container_definition
from tests.templates import deployment_of, ledger_of
from tools.local_tasks import bootstrap_tls


def _container(synth: Synthesized) -> dict[str, Any]:
    return container_definition(synth.template_json(COMPUTE), CONTAINER)


@pytest.fixture(scope="module")
def rds_engine(dev: Synthesized) -> Iterator[Postgres]:
    """A server of the major version the spec gives RDS. createrole_self_grant is set as a
    parameter group could set it, at its worst: the bootstrap must hold whatever it says."""
    try:
        binaries = binaries_for(dev.spec.database.major_version)
    except PostgresError as error:
        pytest.fail(str(error))
    with running_postgres(binaries) as server:
        server.psql("ALTER SYSTEM SET createrole_self_grant = 'set, inherit'")
        server.psql("SELECT pg_reload_conf()")
        yield server


def _bootstrapped(postgres: Postgres, dev: Synthesized) -> AbstractContextManager[str]:
    """An RDS-like database, bootstrapped twice with the synthesized task's own command, over TCP
    with its TLS settings: the server verified against the test's CA where the task has RDS's
    (tests/integration/test_bootstrap_tls.py)."""
    container = _container(dev)
    environment = {e["Name"]: e["Value"] for e in container["Environment"]}
    assert environment["BOOTSTRAP_SQL"] == render_database_bootstrap(dev.spec)
    assert container["EntryPoint"] == ["sh", "-c"]
    return rds_like_database(
        postgres,
        name=dev.spec.database.database_name,
        bootstrap_command=container["Command"][0],
        bootstrap_sql=environment["BOOTSTRAP_SQL"],
        users=[dev.spec.database.migrator_user, *dev.spec.database_users()],
        environment=bootstrap_tls(postgres, mode=environment["PGSSLMODE"]),
    )


@pytest.fixture(scope="module")
def database(rds_engine: Postgres, dev: Synthesized) -> Iterator[str]:
    with _bootstrapped(rds_engine, dev) as name:
        yield name


@pytest.fixture(scope="module")
def audited(postgres: Postgres, dev: Synthesized) -> Iterator[str]:
    """The same on Debian's server, which loads pgaudit as the parameter group does."""
    with _bootstrapped(postgres, dev) as name:
        yield name


def _as(postgres: Postgres, user: str, database: str, sql: str) -> tuple[int, str]:
    result = postgres.psql(sql, user=user, database=database, check=False)
    return result.returncode, (result.stdout + result.stderr).strip()


def test_the_server_runs_the_major_version_rds_runs(rds_engine: Postgres, dev: Synthesized) -> None:
    assert str(rds_engine.major) == dev.spec.database.major_version
    assert rds_engine.psql("SHOW server_version_num").stdout.startswith(dev.spec.database.major_version)


def test_the_migrator_owns_the_schema_and_the_service_only_reads_and_writes(
    rds_engine: Postgres, database: str, dev: Synthesized
) -> None:
    postgres, migrator, schema = rds_engine, dev.spec.database.migrator_user, dev.spec.database.schema
    assert _as(postgres, migrator, database, "CREATE TABLE visits (id serial PRIMARY KEY, path text)")[0] == 0
    assert _as(postgres, migrator, database, "SHOW search_path")[1] == schema
    for user in dev.spec.database_users():
        code, output = _as(postgres, user, database, "INSERT INTO visits (path) VALUES ('/') RETURNING id")
        assert code == 0, output
        assert _as(postgres, user, database, "SELECT count(*) FROM visits")[1] == "1"
        for forbidden in (
            "CREATE TABLE mine (id int)",
            "CREATE TABLE public.mine (id int)",
            "DROP TABLE visits",
            "ALTER TABLE visits ADD COLUMN x int",
            "CREATE ROLE intruder",
        ):
            code, output = _as(postgres, user, database, forbidden)
            assert code != 0, f"{user} may {forbidden}"
            assert "permission denied" in output or "must be owner" in output, output


def test_every_user_signs_in_with_iam_and_has_no_password(
    rds_engine: Postgres, database: str, dev: Synthesized
) -> None:
    users = [dev.spec.database.migrator_user, *dev.spec.database_users()]
    rows = rds_engine.psql(
        "SELECT r.rolname, r.rolpassword IS NULL, r.rolsuper, pg_has_role(r.rolname, 'rds_iam', 'MEMBER') "
        f"FROM pg_authid r WHERE r.rolname IN ({', '.join(repr(u) for u in users)}) ORDER BY 1"
    ).stdout.splitlines()
    assert rows == [f"{user}\tt\tf\tt" for user in sorted(users)]


def test_the_master_only_administers_the_roles_it_made(rds_engine: Postgres, database: str, dev: Synthesized) -> None:
    """As docs/security.md says, RDS refuses a password to rds_iam's members. PostgreSQL 16+ makes the
    master an ADMIN member of every role it creates (the migrator, each user, rds_pgaudit), and
    the master cannot undo that; it must never inherit them or SET ROLE to them, or it holds
    rds_iam through them. Its one other membership is the test's stand-in for RDS letting it
    grant rds_iam (tools/rds_like_database.py), also ADMIN alone."""
    made = [dev.spec.database.migrator_user, *dev.spec.database_users(), "rds_pgaudit"]
    rows = rds_engine.psql(
        "SELECT r.rolname, m.admin_option, m.inherit_option, m.set_option, g.rolname FROM pg_auth_members m "
        "JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles g ON g.oid = m.grantor "
        f"WHERE m.member = '{MASTER}'::regrole ORDER BY 1"
    ).stdout.splitlines()
    granted_by = rds_engine.superuser  # PostgreSQL records its own grant as the bootstrap superuser's
    assert rows == [f"{role}\tt\tf\tf\t{granted_by}" for role in sorted([*made, "rds_iam"])]
    for role in (*made, "rds_iam"):
        held = rds_engine.psql(
            f"SELECT pg_has_role('{MASTER}', '{role}', 'USAGE'), pg_has_role('{MASTER}', '{role}', 'SET')"
        )
        assert held.stdout.strip() == "f\tf", f"the master holds {role}'s privileges or may become it"


def test_no_other_role_may_connect_to_the_database(rds_engine: Postgres, database: str) -> None:
    rds_engine.psql("CREATE ROLE stranger LOGIN")
    try:
        code, output = _as(rds_engine, "stranger", database, "SELECT 1")
        assert code != 0
        assert "permission denied for database" in output
    finally:
        rds_engine.psql("DROP ROLE stranger")


def test_pgaudit_logs_the_migrators_ddl(postgres: Postgres, audited: str, dev: Synthesized) -> None:
    migrator = dev.spec.database.migrator_user
    _as(postgres, migrator, audited, "CREATE TABLE audited (id int)")
    log = postgres.log_file.read_text()
    assert re.search(rf"^{migrator} .*AUDIT: SESSION,\d+,\d+,DDL,CREATE TABLE", log, re.MULTILINE), log[-2000:]


def test_the_sql_follows_the_spec() -> None:
    sql = render_database_bootstrap(dev())
    assert "CREATE ROLE backend LOGIN" in sql
    assert "CREATE ROLE frontend" not in sql, "only services that use the database get a user"
    statements = "\n".join(line for line in sql.splitlines() if not line.startswith("--"))
    assert "PASSWORD" not in statements.upper()


# --- Only the bootstrap and RDS can read the master secret -------------------------------------


def test_only_the_bootstrap_task_can_read_the_master_secret(profile: Synthesized) -> None:
    deployment = deployment_of(profile)
    data = profile.stack_name(DATA)
    (instance,) = deployment.resources(data, "AWS::RDS::DBInstance")
    secret = deployment.get_att(data, instance, "MasterUserSecret.SecretArn")
    readers = []
    for stack in deployment.stacks:
        for role in deployment.resources(stack, "AWS::IAM::Role"):
            try:
                identity = deployment.identity_policies(stack, role)
            except Exception:  # roles with AWS-managed policies: checked below to be AWS services' own
                assert deployment.resource(stack, role)["Properties"].get("ManagedPolicyArns"), role
                continue
            request = Request(
                principal=Principal("AWS", deployment.role_arn(stack, role)),
                action="secretsmanager:GetSecretValue",
                resource=secret,
                context={"aws:SecureTransport": True},
            )
            decision = evaluate(request, account=deployment.account, identity_policies=identity, resource_policy=None)
            if decision.allowed:
                readers.append(f"{stack}/{role}")
    assert len(readers) == 1, readers
    assert "DatabaseBootstrapTask" in readers[0], readers
    entries = [e for e in ledger_of(profile, deployment) if getattr(e, "resource", None) == secret]
    assert {e.purpose for e in entries} == {f"{CONTAINER}: read PGUSER", f"{CONTAINER}: read PGPASSWORD"}


def test_no_service_or_migration_task_holds_a_database_password(profile: Synthesized) -> None:
    text = json.dumps([profile.template_json(layer)["Resources"] for layer in (COMPUTE, DELIVERY)], sort_keys=True)
    for name in ("DB_MASTER_USERNAME", "DB_MASTER_PASSWORD", "DB_PASSWORD"):
        assert name not in text


# --- The hook that runs the task at deploy -------------------------------------------------------

hook = load_hook("database_bootstrap")
PROPERTIES = {
    "Cluster": "arn:aws:ecs:us-east-1:111122223333:cluster/dev-davidshaevel-cluster",
    "TaskDefinition": "arn:aws:ecs:us-east-1:111122223333:task-definition/bootstrap:3",
    "Container": CONTAINER,
    "Subnets": ["subnet-0a"],
    "SecurityGroups": ["sg-0b"],
    "LogGroup": "/bootstrap",
}
TASK = "arn:aws:ecs:us-east-1:111122223333:task/dev-davidshaevel-cluster/0123abcd"


class Ecs:
    """ECS as the hook sees it: a task that runs, then stops with ``exit_code``."""

    __test__ = False

    def __init__(self, *, exit_code: int | None = 0, polls: int = 2, start_failure: str | None = None) -> None:
        self.exit_code, self.polls, self.start_failure = exit_code, polls, start_failure
        self.started: list[dict[str, Any]] = []

    def run_task(self, **arguments: Any) -> dict[str, Any]:
        self.started.append(arguments)
        if self.start_failure:
            return {"tasks": [], "failures": [{"reason": self.start_failure}]}
        return {"tasks": [{"taskArn": TASK}], "failures": []}

    def describe_tasks(self, cluster: str, tasks: list[str]) -> dict[str, Any]:
        self.polls -= 1
        if self.polls > 0:
            return {"tasks": [{"taskArn": TASK, "lastStatus": "RUNNING", "containers": []}]}
        container = {"name": CONTAINER, "exitCode": self.exit_code, "reason": ""}
        return {"tasks": [{"taskArn": TASK, "lastStatus": "STOPPED", "stoppedReason": "Essential container exited",
                           "containers": [container]}]}  # fmt: skip


def _answer(request: str, ecs: Ecs, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    sent: list[tuple[str, str]] = []
    monkeypatch.setattr(hook, "respond", lambda event, status, reason: sent.append((status, reason)))
    monkeypatch.setattr(hook.time, "sleep", lambda seconds: None)
    event = {"RequestType": request, "ResourceProperties": PROPERTIES, "ResponseURL": "https://example.invalid",
             "StackId": "stack", "RequestId": "r", "LogicalResourceId": "Run"}  # fmt: skip
    hook.handler(event, None, ecs)
    (answer,) = sent
    return answer


def test_the_hook_runs_the_task_in_the_bootstraps_group_and_waits_for_it(monkeypatch: pytest.MonkeyPatch) -> None:
    ecs = Ecs(exit_code=0, polls=3)
    assert _answer("Create", ecs, monkeypatch) == ("SUCCESS", "the database users are in place (task 0123abcd)")
    (started,) = ecs.started
    assert started["networkConfiguration"]["awsvpcConfiguration"] == {
        "subnets": ["subnet-0a"],
        "securityGroups": ["sg-0b"],
        "assignPublicIp": "DISABLED",
    }


def test_a_failed_bootstrap_fails_the_deploy_naming_its_log(monkeypatch: pytest.MonkeyPatch) -> None:
    status, reason = _answer("Update", Ecs(exit_code=3), monkeypatch)
    assert status == "FAILED"
    assert reason.startswith("the bootstrap task 0123abcd exited 3")
    assert reason.endswith(f"see log /bootstrap, stream {CONTAINER}/{CONTAINER}/0123abcd")


def test_a_task_that_cannot_start_fails_the_deploy(monkeypatch: pytest.MonkeyPatch) -> None:
    status, reason = _answer("Create", Ecs(start_failure="RESOURCE:ENI"), monkeypatch)
    assert (status, reason) == ("FAILED", "the bootstrap task did not start: RESOURCE:ENI")


def test_a_task_that_never_stops_fails_before_the_function_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    status, reason = _answer("Create", Ecs(polls=10_000), monkeypatch)
    assert status == "FAILED"
    assert reason == f"the bootstrap task 0123abcd was still RUNNING after {hook.WAIT_SECONDS} s"


def test_deleting_the_stack_keeps_the_users(monkeypatch: pytest.MonkeyPatch) -> None:
    ecs = Ecs()
    assert _answer("Delete", ecs, monkeypatch) == ("SUCCESS", "the database keeps its users")
    assert ecs.started == []
