"""The offline IAM evaluator follows AWS's documented rules, and refuses what it cannot follow."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from aws_model.iam import Decision, NamedPolicy, Principal, Request, UnsupportedPolicy, evaluate

ACCOUNT = "111122223333"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/backend-task"
OTHER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/frontend-task"
BUCKET = "arn:aws:s3:::config-bucket"
OBJECT = f"{BUCKET}/prometheus/prometheus.yml"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
TOPIC = f"arn:aws:sns:us-east-1:{ACCOUNT}:alarms"
ALARM = f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:backend-cpu"


def statement(
    effect: str = "Allow", action: Any = "s3:GetObject", resource: Any = OBJECT, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"Effect": effect, "Action": action, "Resource": resource}
    body.update(extra)
    return {k: v for k, v in body.items() if v is not None}


def policy(name: str, *statements: dict[str, Any]) -> NamedPolicy:
    return NamedPolicy(name=name, document={"Version": "2012-10-17", "Statement": list(statements)})


def role_call(action: str = "s3:GetObject", resource: str = OBJECT, /, **context: Any) -> Request:
    return Request(principal=Principal(kind="AWS", value=ROLE), action=action, resource=resource, context=context)


def service_call(service: str, action: str, resource: str, /, **context: Any) -> Request:
    return Request(
        principal=Principal(kind="Service", value=service), action=action, resource=resource, context=context
    )


def decide(
    request: Request,
    identity: Sequence[NamedPolicy] = (),
    resource: NamedPolicy | None = None,
    *,
    kms: bool = False,
) -> Decision:
    return evaluate(
        request, account=ACCOUNT, identity_policies=identity, resource_policy=resource, resource_is_kms_key=kms
    )


# --- Deny precedence and reasons ---------------------------------------------------------------


def test_an_explicit_deny_in_a_resource_policy_beats_an_allow_in_an_identity_policy() -> None:
    identity = policy("role-policy", statement())
    bucket = policy("bucket-policy", statement("Deny", "s3:*", f"{BUCKET}/*", Principal={"AWS": "*"}, Sid="NoReads"))
    decision = decide(role_call(), [identity], bucket)
    assert decision == Decision(allowed=False, reason="explicit deny by bucket-policy statement NoReads")


def test_an_explicit_deny_in_an_identity_policy_beats_an_allow_in_the_resource_policy() -> None:
    identity = policy("role-policy", statement("Deny", "s3:*", "*"))
    bucket = policy("bucket-policy", statement(Principal={"AWS": ROLE}))
    assert decide(role_call(), [identity], bucket) == Decision(
        allowed=False, reason="explicit deny by role-policy statement 0"
    )


def test_a_deny_in_any_of_several_identity_policies_wins() -> None:
    allowing = policy("allowing", statement())
    denying = policy("denying", statement("Allow", "ecr:*", "*"), statement("Deny", "s3:GetObject", "*"))
    assert decide(role_call(), [allowing, denying]).reason == "explicit deny by denying statement 1"


def test_an_allow_names_the_deciding_statement_by_sid() -> None:
    identity = policy("role-policy", statement("Allow", "ecr:*", "*"), statement(Sid="ReadConfig"))
    assert decide(role_call(), [identity]) == Decision(
        allowed=True, reason="allowed by role-policy statement ReadConfig"
    )


def test_without_an_allowing_statement_the_request_is_implicitly_denied() -> None:
    decision = decide(role_call(), [policy("role-policy", statement("Allow", "s3:PutObject"))])
    assert decision == Decision(
        allowed=False, reason=f"no statement of role-policy allows s3:GetObject on {OBJECT} for {ROLE}"
    )


# --- Action and resource matching --------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "action", "allowed"),
    [
        pytest.param("kms:GenerateDataKey*", "kms:GenerateDataKey", True, id="star-matches-empty"),
        pytest.param("kms:GenerateDataKey*", "kms:GenerateDataKeyWithoutPlaintext", True, id="star-matches-suffix"),
        pytest.param("kms:GenerateDataKey*", "kms:Decrypt", False, id="star-is-not-everything"),
        pytest.param("S3:getobject", "s3:GetObject", True, id="case-insensitive"),
        pytest.param("s3:Get?bject", "s3:GetObject", True, id="question-mark-one-char"),
        pytest.param("s3:Get?bject", "s3:GetObjject", False, id="question-mark-only-one-char"),
        pytest.param("*", "ecr:BatchGetImage", True, id="bare-star"),
        pytest.param("ecr:*", "ecs:RunTask", False, id="other-service"),
        pytest.param(["ecs:RunTask", "s3:GetObject"], "s3:GetObject", True, id="list-is-any"),
    ],
)
def test_actions_match_case_insensitively_with_wildcards(pattern: Any, action: str, allowed: bool) -> None:
    identity = policy("p", statement("Allow", pattern, "*"))
    assert decide(role_call(action), [identity]).allowed is allowed


@pytest.mark.parametrize(
    ("pattern", "resource", "allowed"),
    [
        pytest.param(f"{BUCKET}/prometheus/*", f"{BUCKET}/prometheus/wal/0001", True, id="star-crosses-slash"),
        pytest.param(f"{BUCKET}/prometheus/*", f"{BUCKET}/grafana/grafana.ini", False, id="other-prefix"),
        pytest.param(f"{BUCKET}/prometheus/*", f"{BUCKET}/prometheus", False, id="prefix-without-slash"),
        pytest.param(f"{BUCKET}/*", BUCKET, False, id="objects-are-not-the-bucket"),
        pytest.param("arn:aws:s3:::CONFIG-BUCKET/*", OBJECT, False, id="case-sensitive"),
        pytest.param(
            "arn:aws:logs:*:*:log-group:/ecs/*",
            f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/ecs/backend:log-stream:a/b",
            True,
            id="star-crosses-colon",
        ),
        pytest.param(f"{BUCKET}/file?.txt", f"{BUCKET}/file1.txt", True, id="question-mark-one-char"),
        pytest.param(f"{BUCKET}/file?.txt", f"{BUCKET}/file12.txt", False, id="question-mark-only-one-char"),
        pytest.param("arn:aws:s3:::config.bucket/*", "arn:aws:s3:::configXbucket/x", False, id="dot-is-literal"),
    ],
)
def test_resources_match_case_sensitively_with_wildcards(pattern: str, resource: str, allowed: bool) -> None:
    identity = policy("p", statement("Allow", "s3:*", pattern))
    assert decide(role_call("s3:GetObject", resource), [identity]).allowed is allowed


def test_not_action_allows_every_action_but_the_listed_ones() -> None:
    identity = policy("p", {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})
    assert decide(role_call("s3:GetObject"), [identity]).allowed
    assert not decide(role_call("iam:PassRole", ROLE), [identity]).allowed


def test_a_not_action_deny_denies_everything_outside_the_list() -> None:
    identity = policy("p", statement("Allow", "*", "*"), {"Effect": "Deny", "NotAction": "s3:*", "Resource": "*"})
    assert decide(role_call("s3:GetObject"), [identity]).allowed
    assert decide(role_call("ecr:BatchGetImage", "*"), [identity]).reason == "explicit deny by p statement 1"


def test_not_resource_allows_every_resource_but_the_listed_ones() -> None:
    identity = policy("p", {"Effect": "Allow", "Action": "s3:GetObject", "NotResource": f"{BUCKET}/secret/*"})
    assert decide(role_call("s3:GetObject", OBJECT), [identity]).allowed
    assert not decide(role_call("s3:GetObject", f"{BUCKET}/secret/key"), [identity]).allowed


# --- Condition operators -----------------------------------------------------------------------

MISSING = object()


@pytest.mark.parametrize(
    ("operator", "key", "value", "context", "holds"),
    [
        pytest.param("StringEquals", "s3:prefix", "home/", "home/", True, id="StringEquals-match"),
        pytest.param("StringEquals", "s3:prefix", "home/", "HOME/", False, id="StringEquals-case-sensitive"),
        pytest.param("StringEquals", "s3:prefix", "home/", MISSING, False, id="StringEquals-missing"),
        pytest.param("StringEquals", "s3:prefix", ["a", "home/"], "home/", True, id="StringEquals-values-or"),
        pytest.param("StringNotEquals", "s3:prefix", "home/", "home/", False, id="StringNotEquals-match"),
        pytest.param("StringNotEquals", "s3:prefix", "home/", "other/", True, id="StringNotEquals-mismatch"),
        pytest.param("StringNotEquals", "s3:prefix", "home/", MISSING, True, id="StringNotEquals-missing"),
        pytest.param("StringNotEquals", "s3:prefix", ["a", "b"], "b", False, id="StringNotEquals-values-nor"),
        pytest.param("StringNotEquals", "s3:prefix", ["a", "b"], "c", True, id="StringNotEquals-values-none"),
        pytest.param("StringEqualsIgnoreCase", "s3:prefix", "HOME/", "home/", True, id="IgnoreCase-match"),
        pytest.param("StringEqualsIgnoreCase", "s3:prefix", "HOME/", MISSING, False, id="IgnoreCase-missing"),
        pytest.param("StringNotEqualsIgnoreCase", "s3:prefix", "HOME/", "home/", False, id="NotIgnoreCase-match"),
        pytest.param("StringNotEqualsIgnoreCase", "s3:prefix", "HOME/", MISSING, True, id="NotIgnoreCase-missing"),
        pytest.param(
            "StringLike", "kms:ViaService", "s3.*.amazonaws.com", "s3.us-east-1.amazonaws.com", True, id="Like-match"
        ),
        pytest.param("StringLike", "kms:ViaService", "s3.?", "s3.ab", False, id="Like-question-mark"),
        pytest.param("StringLike", "kms:ViaService", "s3.*", MISSING, False, id="Like-missing"),
        pytest.param("StringNotLike", "kms:ViaService", "s3.*", "s3.us-east-1", False, id="NotLike-match"),
        pytest.param("StringNotLike", "kms:ViaService", "s3.*", MISSING, True, id="NotLike-missing"),
        pytest.param("ArnEquals", "aws:SourceArn", ALARM, ALARM, True, id="ArnEquals-match"),
        pytest.param("ArnEquals", "aws:SourceArn", ALARM, ALARM + "x", False, id="ArnEquals-mismatch"),
        pytest.param("ArnLike", "aws:SourceArn", ALARM.replace("backend-cpu", "*"), ALARM, True, id="ArnLike-match"),
        pytest.param(
            "ArnLike", "aws:SourceArn", "arn:aws:cloudwatch:*:*:alarm:*", TOPIC, False, id="ArnLike-other-service"
        ),
        pytest.param("ArnLike", "aws:SourceArn", ALARM, "not-an-arn", False, id="ArnLike-not-an-arn"),
        pytest.param("ArnLike", "aws:SourceArn", ALARM, MISSING, False, id="ArnLike-missing"),
        pytest.param("ArnNotEquals", "aws:SourceArn", ALARM, ALARM, False, id="ArnNotEquals-match"),
        pytest.param("ArnNotEquals", "aws:SourceArn", ALARM, MISSING, True, id="ArnNotEquals-missing"),
        pytest.param("ArnNotLike", "aws:SourceArn", "arn:aws:cloudwatch:*:*:*", ALARM, False, id="ArnNotLike-match"),
        pytest.param("ArnNotLike", "aws:SourceArn", "arn:aws:cloudwatch:*:*:*", TOPIC, True, id="ArnNotLike-other"),
        pytest.param("Bool", "aws:SecureTransport", "false", False, True, id="Bool-python-false"),
        pytest.param("Bool", "aws:SecureTransport", "false", True, False, id="Bool-python-true"),
        pytest.param("Bool", "aws:SecureTransport", "true", "TRUE", True, id="Bool-case-insensitive"),
        pytest.param("Bool", "aws:SecureTransport", True, "true", True, id="Bool-json-boolean"),
        pytest.param("Bool", "aws:SecureTransport", "false", MISSING, False, id="Bool-missing"),
        pytest.param("Null", "aws:TokenIssueTime", "true", MISSING, True, id="Null-true-missing"),
        pytest.param("Null", "aws:TokenIssueTime", "true", "2024", False, id="Null-true-present"),
        pytest.param("Null", "aws:TokenIssueTime", "false", "2024", True, id="Null-false-present"),
        pytest.param("Null", "aws:TokenIssueTime", "false", MISSING, False, id="Null-false-missing"),
        pytest.param("NumericEquals", "s3:max-keys", "3", "3.0", True, id="NumericEquals"),
        pytest.param("NumericNotEquals", "s3:max-keys", "3", "4", True, id="NumericNotEquals"),
        pytest.param("NumericNotEquals", "s3:max-keys", "3", MISSING, True, id="NumericNotEquals-missing"),
        pytest.param("NumericLessThan", "s3:max-keys", "10", "9", True, id="NumericLessThan"),
        pytest.param("NumericLessThan", "s3:max-keys", "10", "10", False, id="NumericLessThan-equal"),
        pytest.param("NumericLessThanEquals", "s3:max-keys", "10", "10", True, id="NumericLessThanEquals"),
        pytest.param("NumericGreaterThan", "s3:max-keys", 10, "11", True, id="NumericGreaterThan-json-number"),
        pytest.param("NumericGreaterThanEquals", "s3:max-keys", "10", "9", False, id="NumericGreaterThanEquals"),
        pytest.param("NumericEquals", "s3:max-keys", "3", MISSING, False, id="NumericEquals-missing"),
        pytest.param("StringEqualsIfExists", "s3:prefix", "home/", MISSING, True, id="IfExists-missing"),
        pytest.param("StringEqualsIfExists", "s3:prefix", "home/", "other/", False, id="IfExists-present-mismatch"),
        pytest.param("StringNotEqualsIfExists", "s3:prefix", "home/", MISSING, True, id="NotIfExists-missing"),
        pytest.param("StringNotEqualsIfExists", "s3:prefix", "home/", "home/", False, id="NotIfExists-match"),
        pytest.param("ArnLikeIfExists", "aws:SourceArn", ALARM, ALARM, True, id="ArnLikeIfExists-match"),
        pytest.param("BoolIfExists", "aws:MultiFactorAuthPresent", "true", MISSING, True, id="BoolIfExists-missing"),
        pytest.param("NumericLessThanIfExists", "s3:max-keys", "5", "7", False, id="NumericIfExists-present"),
        pytest.param("StringEquals", "AWS:SourceAccount", ACCOUNT, ACCOUNT, True, id="key-names-case-insensitive"),
    ],
)
def test_condition_operators_follow_aws_rules_for_present_and_missing_keys(
    operator: str, key: str, value: Any, context: Any, holds: bool
) -> None:
    identity = policy("p", statement(Condition={operator: {key: value}}))
    request_context = {} if context is MISSING else {key.lower(): context}
    assert decide(role_call(**request_context), [identity]).allowed is holds


@pytest.mark.parametrize(
    ("operator", "value", "context", "holds"),
    [
        pytest.param("ForAnyValue:StringEquals", ["a", "b"], ["b", "z"], True, id="any-one-matches"),
        pytest.param("ForAnyValue:StringEquals", ["a", "b"], ["z"], False, id="any-none-matches"),
        pytest.param("ForAnyValue:StringEquals", ["a", "b"], MISSING, False, id="any-missing"),
        pytest.param("ForAnyValue:StringEquals", ["a", "b"], [], False, id="any-empty"),
        pytest.param("ForAnyValue:StringEquals", ["a"], "a", True, id="any-single-value"),
        pytest.param("ForAnyValue:StringNotEquals", ["a"], ["a", "b"], True, id="any-not-one-differs"),
        pytest.param("ForAnyValue:StringNotEquals", ["a"], ["a"], False, id="any-not-all-listed"),
        pytest.param("ForAnyValue:StringNotEquals", ["a"], MISSING, False, id="any-not-missing"),
        pytest.param("ForAnyValue:StringEqualsIfExists", ["a"], MISSING, True, id="any-ifexists-missing"),
        pytest.param("ForAllValues:StringEquals", ["a", "b"], ["a", "b"], True, id="all-every-matches"),
        pytest.param("ForAllValues:StringEquals", ["a", "b"], ["a", "z"], False, id="all-one-outside"),
        pytest.param("ForAllValues:StringEquals", ["a", "b"], MISSING, True, id="all-missing"),
        pytest.param("ForAllValues:StringEquals", ["a", "b"], [], True, id="all-empty"),
        pytest.param("ForAllValues:StringNotLike", "key1*", ["key2:audit"], True, id="all-notlike-none-match"),
        pytest.param("ForAllValues:StringNotLike", "key1*", ["key1:hr", "key2"], False, id="all-notlike-one-matches"),
        pytest.param("ForAllValues:StringNotLike", "key1*", MISSING, True, id="all-notlike-missing"),
    ],
)
def test_set_operators_follow_aws_rules_for_multivalued_keys(
    operator: str, value: Any, context: Any, holds: bool
) -> None:
    identity = policy("p", statement(Condition={operator: {"aws:TagKeys": value}}))
    request_context = {} if context is MISSING else {"aws:TagKeys": context}
    assert decide(role_call(**request_context), [identity]).allowed is holds


def test_all_operators_and_all_keys_of_a_condition_must_hold() -> None:
    condition = {
        "StringEquals": {"aws:SourceAccount": ACCOUNT, "s3:prefix": "home/"},
        "Bool": {"aws:SecureTransport": "true"},
    }
    identity = policy("p", statement(Condition=condition))
    full = {"aws:SourceAccount": ACCOUNT, "s3:prefix": "home/", "aws:SecureTransport": True}
    assert decide(role_call(**full), [identity]).allowed
    assert not decide(role_call(**{**full, "s3:prefix": "other/"}), [identity]).allowed
    assert not decide(role_call(**{**full, "aws:SecureTransport": False}), [identity]).allowed


def test_the_principals_own_condition_keys_are_known_without_the_caller_supplying_them() -> None:
    identity = policy("p", statement(Condition={"ArnEquals": {"aws:PrincipalArn": ROLE}}))
    assert decide(role_call(), [identity]).allowed
    bucket = policy(
        "b",
        statement(
            Principal={"Service": "logging.s3.amazonaws.com"}, Condition={"Bool": {"aws:PrincipalIsAWSService": "true"}}
        ),
    )
    assert decide(service_call("logging.s3.amazonaws.com", "s3:GetObject", OBJECT), [], bucket).allowed


def test_a_multivalued_context_key_without_a_set_operator_is_refused() -> None:
    identity = policy("p", statement(Condition={"StringEquals": {"aws:TagKeys": "a"}}))
    with pytest.raises(UnsupportedPolicy, match="multi-valued context key needs ForAnyValue"):
        decide(role_call(**{"aws:TagKeys": ["a", "b"]}), [identity])


# --- A realistic TLS-only bucket policy --------------------------------------------------------

TLS_ONLY_BUCKET = policy(
    "data/ConfigBucketPolicy",
    {
        "Action": "s3:*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Resource": [BUCKET, f"{BUCKET}/*"],
    },
)


def test_a_tls_only_bucket_policy_lets_a_tls_request_through_to_the_identity_allow() -> None:
    identity = policy("PrometheusTaskRoleDefaultPolicy", statement("Allow", "s3:GetObject", f"{BUCKET}/prometheus/*"))
    decision = decide(role_call(**{"aws:SecureTransport": True}), [identity], TLS_ONLY_BUCKET)
    assert decision == Decision(allowed=True, reason="allowed by PrometheusTaskRoleDefaultPolicy statement 0")


def test_a_tls_only_bucket_policy_denies_a_plaintext_request() -> None:
    identity = policy("PrometheusTaskRoleDefaultPolicy", statement("Allow", "s3:GetObject", f"{BUCKET}/prometheus/*"))
    decision = decide(role_call(**{"aws:SecureTransport": False}), [identity], TLS_ONLY_BUCKET)
    assert decision == Decision(allowed=False, reason="explicit deny by data/ConfigBucketPolicy statement 0")


def test_a_tls_only_deny_with_any_aws_principal_also_covers_service_principals() -> None:
    topic = policy(
        "obs/AlarmsTopicPolicy",
        statement("Allow", "sns:Publish", TOPIC, Principal={"Service": "cloudwatch.amazonaws.com"}),
        statement("Deny", "sns:Publish", TOPIC, Principal="*", Condition={"Bool": {"aws:SecureTransport": "false"}}),
    )
    publish = service_call("cloudwatch.amazonaws.com", "sns:Publish", TOPIC, **{"aws:SecureTransport": False})
    assert decide(publish, [], topic).reason == "explicit deny by obs/AlarmsTopicPolicy statement 1"


# --- Principals --------------------------------------------------------------------------------


def test_a_service_principal_is_allowed_only_by_a_resource_policy_naming_that_service() -> None:
    topic = policy(
        "topic-policy",
        statement(
            "Allow",
            "sns:Publish",
            TOPIC,
            Principal={"Service": ["events.amazonaws.com", "cloudwatch.amazonaws.com"]},
            Condition={"ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:*"}},
        ),
    )
    assert decide(
        service_call("cloudwatch.amazonaws.com", "sns:Publish", TOPIC, **{"aws:SourceArn": ALARM}), [], topic
    ) == (Decision(allowed=True, reason="allowed by topic-policy statement 0"))
    assert not decide(
        service_call("cloudwatch.amazonaws.com", "sns:Publish", TOPIC, **{"aws:SourceArn": TOPIC}), [], topic
    ).allowed
    assert not decide(
        service_call("s3.amazonaws.com", "sns:Publish", TOPIC, **{"aws:SourceArn": ALARM}), [], topic
    ).allowed
    assert not decide(service_call("cloudwatch.amazonaws.com", "sns:Publish", TOPIC), [], None).allowed


def test_a_service_principal_has_no_identity_policies() -> None:
    with pytest.raises(ValueError, match="has no identity policies"):
        decide(service_call("cloudwatch.amazonaws.com", "sns:Publish", TOPIC), [policy("p", statement())])


def test_whether_a_wildcard_allow_admits_a_service_principal_is_refused_not_guessed() -> None:
    topic = policy("topic-policy", statement("Allow", "sns:Publish", TOPIC, Principal={"AWS": "*"}))
    with pytest.raises(UnsupportedPolicy, match="wildcard principal allows service principal"):
        decide(service_call("cloudwatch.amazonaws.com", "sns:Publish", TOPIC), [], topic)


def test_a_wildcard_allow_in_a_resource_policy_admits_a_role() -> None:
    bucket = policy("bucket", statement(Principal="*", Condition={"StringEquals": {"aws:PrincipalAccount": ACCOUNT}}))
    assert decide(role_call(), [], bucket) == Decision(allowed=True, reason="allowed by bucket statement 0")


@pytest.mark.parametrize("account_principal", [ROOT, ACCOUNT], ids=["root-arn", "bare-account-id"])
def test_an_account_principal_allow_does_not_by_itself_allow_a_role(account_principal: str) -> None:
    bucket = policy("bucket", statement(Principal={"AWS": account_principal}))
    assert not decide(role_call(), [], bucket).allowed
    # It only delegates to the role's own policies.
    assert decide(role_call(), [policy("role", statement())], bucket).reason == "allowed by role statement 0"


def test_an_account_principal_deny_covers_every_role_of_the_account() -> None:
    bucket = policy("bucket", statement("Deny", "s3:*", "*", Principal={"AWS": ROOT}))
    assert decide(role_call(), [policy("role", statement())], bucket).reason == "explicit deny by bucket statement 0"


def test_a_resource_policy_naming_the_role_allows_it_directly() -> None:
    bucket = policy("bucket", statement(Principal={"AWS": [OTHER_ROLE, ROLE]}))
    assert decide(role_call(), [], bucket) == Decision(allowed=True, reason="allowed by bucket statement 0")
    only_other = policy("bucket", statement(Principal={"AWS": OTHER_ROLE}))
    assert not decide(role_call(), [], only_other).allowed


def test_a_principal_of_another_account_is_refused() -> None:
    request = Request(Principal("AWS", "arn:aws:iam::444455556666:role/x"), "s3:GetObject", OBJECT, {})
    with pytest.raises(UnsupportedPolicy, match="cross-account request"):
        decide(request, [], None)


# --- KMS ---------------------------------------------------------------------------------------

ENABLE_IAM = statement("Allow", "kms:*", "*", Principal={"AWS": ROOT})
DECRYPT = policy("role", statement("Allow", ["kms:Decrypt", "kms:GenerateDataKey*"], KEY))


def test_a_kms_key_policy_without_root_delegation_denies_even_with_an_identity_allow() -> None:
    key_policy = policy("key", statement("Allow", "kms:*", "*", Principal={"AWS": OTHER_ROLE}))
    decision = decide(role_call("kms:Decrypt", KEY), [DECRYPT], key_policy, kms=True)
    assert not decision.allowed
    assert "key policy key has no statement allowing the account principal" in decision.reason


def test_root_delegation_in_a_key_policy_enables_the_identity_allow() -> None:
    decision = decide(role_call("kms:Decrypt", KEY), [DECRYPT], policy("key", ENABLE_IAM), kms=True)
    assert decision == Decision(
        allowed=True, reason="allowed by role statement 0, enabled by key policy key statement 0"
    )


def test_root_delegation_enables_only_the_actions_and_conditions_it_lists() -> None:
    via_s3 = statement(
        "Allow",
        ["kms:Decrypt", "kms:GenerateDataKey*"],
        "*",
        Principal={"AWS": ROOT},
        Condition={"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}},
    )
    key_policy = policy("key", via_s3)
    assert decide(
        role_call("kms:Decrypt", KEY, **{"kms:ViaService": "s3.us-east-1.amazonaws.com"}),
        [DECRYPT],
        key_policy,
        kms=True,
    ).allowed
    assert not decide(role_call("kms:Decrypt", KEY), [DECRYPT], key_policy, kms=True).allowed
    describe_only = policy("key", statement("Allow", "kms:Describe*", "*", Principal={"AWS": ROOT}))
    assert not decide(role_call("kms:Decrypt", KEY), [DECRYPT], describe_only, kms=True).allowed


def test_a_key_policy_naming_the_role_allows_it_without_identity_policies() -> None:
    key_policy = policy("key", statement("Allow", "kms:Decrypt", "*", Principal={"AWS": ROLE}))
    assert decide(role_call("kms:Decrypt", KEY), [], key_policy, kms=True).allowed


def test_root_delegation_alone_allows_no_role_without_an_identity_allow() -> None:
    assert not decide(role_call("kms:Decrypt", KEY), [], policy("key", ENABLE_IAM), kms=True).allowed


def test_a_kms_key_evaluation_requires_the_key_policy() -> None:
    with pytest.raises(ValueError, match="always has a key policy"):
        decide(role_call("kms:Decrypt", KEY), [DECRYPT], None, kms=True)


# --- What the evaluator refuses ----------------------------------------------------------------


@pytest.mark.parametrize(
    "operator", ["DateLessThan", "IpAddress", "StringStartsWith", "ForAnyValue:Null", "NullIfExists"]
)
def test_an_unknown_condition_operator_is_refused_by_name(operator: str) -> None:
    identity = policy("p", statement(Condition={operator: {"aws:CurrentTime": "2030-01-01T00:00:00Z"}}))
    with pytest.raises(UnsupportedPolicy, match=f"condition operator '{operator}' is not supported"):
        decide(role_call(), [identity])


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        pytest.param({"Action": "s3:*", "Resource": "*"}, "Effect must be Allow or Deny", id="missing-effect"),
        pytest.param({"Effect": "allow", "Action": "s3:*", "Resource": "*"}, "Effect must be", id="effect-case"),
        pytest.param(
            {"Effect": "Allow", "Action": "s3:*", "NotAction": "iam:*", "Resource": "*"},
            "exactly one of Action and NotAction",
            id="action-and-notaction",
        ),
        pytest.param({"Effect": "Allow", "Resource": "*"}, "exactly one of Action and NotAction", id="no-action"),
        pytest.param({"Effect": "Allow", "Action": "s3:*"}, "needs Resource or NotResource", id="no-resource"),
        pytest.param(
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*", "NotResource": "x"},
            "mutually exclusive",
            id="resource-and-notresource",
        ),
        pytest.param(
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Principal": "*"},
            "identity policy statement cannot have a Principal",
            id="principal-in-identity-policy",
        ),
        pytest.param(
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Sids": "x"}, "unknown element", id="unknown-element"
        ),
        pytest.param(
            {"Effect": "Allow", "Action": "s3:*", "Resource": {"Fn::GetAtt": ["Bucket", "Arn"]}},
            "unresolved value",
            id="unresolved-intrinsic",
        ),
        pytest.param(
            {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b/${aws:username}/*"},
            "policy variable in Resource",
            id="policy-variable-in-resource",
        ),
        pytest.param(
            statement(Condition={"StringEquals": {"s3:prefix": "${aws:username}/"}}),
            "policy variable in condition",
            id="policy-variable-in-condition",
        ),
    ],
)
def test_a_malformed_or_unevaluable_identity_statement_is_refused(bad: dict[str, Any], message: str) -> None:
    with pytest.raises(UnsupportedPolicy, match=message):
        decide(role_call(), [policy("p", bad)])


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        pytest.param(statement(NotPrincipal={"AWS": ROLE}), "NotPrincipal is not supported", id="notprincipal"),
        pytest.param(statement(), "needs a Principal", id="no-principal"),
        pytest.param(
            statement(Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:role/*"}), "wildcard inside principal", id="glob"
        ),
        pytest.param(statement(Principal={"Bogus": "x"}), "unknown principal type", id="unknown-type"),
        pytest.param(
            statement(Principal={"AWS": {"Fn::Join": ["", ["arn:aws:iam::", {"Ref": "AWS::AccountId"}, ":root"]]}}),
            "unresolved value",
            id="unresolved-principal",
        ),
    ],
)
def test_a_malformed_resource_policy_statement_is_refused(bad: dict[str, Any], message: str) -> None:
    with pytest.raises(UnsupportedPolicy, match=message):
        decide(role_call(), [], policy("bucket", bad))


def test_a_policy_variable_in_a_statement_for_other_actions_does_not_block_evaluation() -> None:
    identity = policy(
        "p",
        statement("Allow", "iam:ChangePassword", f"arn:aws:iam::{ACCOUNT}:user/${{aws:username}}"),
        statement(),
    )
    assert decide(role_call(), [identity]).allowed


# --- An AWS-owned account writing into ours (load balancer access logs) ------------------------

ELB_ACCOUNT = "127311923021"
ELB_ROLE = f"arn:aws:iam::{ELB_ACCOUNT}:role/logdelivery"
LOGS = f"arn:aws:s3:::access-logs/alb/AWSLogs/{ACCOUNT}/elasticloadbalancing/file.log.gz"


def _external(resource: NamedPolicy | None) -> Decision:
    request = Request(principal=Principal(kind="AWS", value=ELB_ROLE), action="s3:PutObject", resource=LOGS)
    return evaluate(request, account=ACCOUNT, identity_policies=[], resource_policy=resource, external_principal=True)


def test_an_external_account_is_allowed_only_by_the_resource_policy_naming_it() -> None:
    granting = policy(
        "log-bucket",
        statement(
            action="s3:PutObject",
            resource="arn:aws:s3:::access-logs/alb/*",
            Principal={"AWS": f"arn:aws:iam::{ELB_ACCOUNT}:root"},
        ),
    )
    assert _external(granting).allowed
    assert not _external(None).allowed
    other = policy(
        "log-bucket",
        statement(
            action="s3:PutObject",
            resource="arn:aws:s3:::access-logs/alb/*",
            Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        ),
    )
    assert not _external(other).allowed, "our own account's grant delegates to our IAM, not to theirs"


def test_an_external_account_is_still_subject_to_the_resource_policys_deny() -> None:
    denying = policy(
        "log-bucket",
        statement("Allow", "s3:PutObject", "*", Principal={"AWS": ELB_ACCOUNT}),
        statement("Deny", "s3:*", "*", Principal={"AWS": "*"}, Condition={"Bool": {"aws:SecureTransport": "false"}}),
    )
    request = Request(
        principal=Principal(kind="AWS", value=ELB_ROLE),
        action="s3:PutObject",
        resource=LOGS,
        context={"aws:SecureTransport": False},
    )
    decision = evaluate(
        request, account=ACCOUNT, identity_policies=[], resource_policy=denying, external_principal=True
    )
    assert decision == Decision(allowed=False, reason="explicit deny by log-bucket statement 1")


def test_another_account_without_the_external_flag_is_refused() -> None:
    request = Request(principal=Principal(kind="AWS", value=ELB_ROLE), action="s3:PutObject", resource=LOGS)
    with pytest.raises(UnsupportedPolicy, match="cross-account"):
        evaluate(request, account=ACCOUNT, identity_policies=[], resource_policy=None)
