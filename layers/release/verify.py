"""The services checked after the update: each service's deployment of the revision the
stack now names must be PRIMARY and COMPLETED. Never "whatever deployment is PRIMARY": a
circuit-breaker roll-back is PRIMARY and COMPLETED too."""

from __future__ import annotations

import json

from layers.release.state_names import describe_state
from layers.release.states import TRANSIENT_RETRY, ReleaseContext, State, aws_call, catch, jsonata, jsonata_list, note
from platform_spec.names import SERVICE_ARN, TASK_DEFINITION_ARN, output_key


def verify_services(release: ReleaseContext) -> dict[str, State]:
    """Each service's deployment of the revision its stack now names: PRIMARY and COMPLETED;
    then the smoke tests, or the previous tags put back."""
    services = [
        (output_key(s.name, SERVICE_ARN), output_key(s.name, TASK_DEFINITION_ARN)) for s in release.spec.services
    ]
    service_keys = jsonata_list([arn for arn, _ in services])
    expected = (
        "$merge($append([], $map("
        + json.dumps([list(p) for p in services])
        + (", function($k) { {$lookup($outputs, $k[0]): $lookup($outputs, $k[1])} })))")
    )
    rollouts = jsonata(
        f"($expected := {expected}; $map($states.result.Services, function($s) {{ ("
        " $d := $s.Deployments[TaskDefinition = $lookup($expected, $s.ServiceArn)][0];"
        " {'service': $s.ServiceName, 'state':"
        "   $not($exists($d)) ? 'replaced' :"
        "   $d.RolloutState = 'FAILED' ? 'failed' :"
        "   $d.Status != 'PRIMARY' ? 'replaced' :"
        "   $d.RolloutState = 'COMPLETED' ? 'released' : 'rolling'} ) }))"
    )
    n = len(release.spec.services)
    return {
        "CheckServices": aws_call(
            "ecs:describeServices",
            {
                "Cluster": release.targets.cluster_arn,
                "Services": jsonata(f"$append([], $map({service_keys}, function($k) {{ $lookup($outputs, $k) }}))"),
            },
            Assign={"rollouts": rollouts, "polls": jsonata("$polls + 1")},
            Retry=TRANSIENT_RETRY,
            Catch=[catch("CheckServices", "RollBack")],
            Next="ServicesReleased",
        ),
        "ServicesReleased": {
            "Type": "Choice",
            "Choices": [
                {
                    "Condition": jsonata(f"$count($rollouts[state = 'released']) = {n}"),
                    "Assign": {"runs": jsonata(release.stack_tags)},
                    "Next": describe_state(release.targets.smoke_tests.step),
                },
                {
                    "Condition": jsonata(
                        f"$count($rollouts[state in ['failed', 'replaced']]) > 0 or $polls >= {release.max_polls}"
                    ),
                    "Next": "NotReleased",
                },
            ],
            "Default": "WaitForServices",
        },
        "WaitForServices": {"Type": "Wait", "Seconds": release.poll_seconds, "Next": "CheckServices"},
        "NotReleased": note(
            "CheckServices",
            "'not running the released revision: ' & $join($map($rollouts[state != 'released'], "
            "function($r) { $r.service & ' (' & $r.state & ')' }), ', ')",
            "RollBack",
        ),
    }
