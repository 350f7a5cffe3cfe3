"""The release state machine's definition, a pure function of the spec and the names of what
it acts on; no CDK. Tests build it with plain names and execute it; the construct builds it
with the stacks' tokens and adds the role, logs and tracing.

Input: ``{"imageTag": "<tag>"}``. The flow:

1. the tag is checked with the spec's rule; a scheduled environment's database must not be
   asleep (stopped, stopping or starting), else the execution fails as ``Asleep``, naming the
   window, before any other call; the compute stack's released tags are read;
2. each service's image with that tag is looked up in ECR (any manifest type: image, image
   index, manifest list) and marked ``release-<time>``. The repositories' lifecycle never
   expires a marked image, and the release keeps the marked images to what runs and what a
   roll-back returns to (step 8);
3. migrations run on the new image (``runTask.sync`` on a revision registered for the run);
4. the services are released by one CloudFormation update of the compute stack: the previous
   template, the new tag in each service's ``<Service>ImageTag`` parameter, every other
   parameter kept, the bootstrap's CloudFormation execution role. ECS's circuit breaker,
   its deployment alarms and CloudFormation's own roll-back apply; the release waits for the
   update to finish. A throttled or transient refusal is sent again with the same
   ``ClientRequestToken``;
5. each service's deployment of the revision the stack now names must be PRIMARY and
   COMPLETED (never "whatever deployment is PRIMARY": a circuit-breaker roll-back is PRIMARY
   and COMPLETED too);
6. smoke tests run on the new image;
7. a failure after the services were touched puts the previous tags back the same way
   (only services whose tag changed are redeployed) and waits until restored. An update
   that cannot be followed (the stack cannot be read) or that does not finish in time is
   cancelled first, since CloudFormation refuses another update while one runs; then the
   release follows the stack until it is stable, within a bound of its own, and puts the
   previous tags back if the update completed after all. A roll-back CloudFormation is
   already running is waited for, not cancelled;
8. the ``release-`` marks are tidied, success or failure: after the services changed tag,
   only the newest mark on the image that runs and on the one a roll-back returns to stays;
   when they run the tag they ran before, the marks of that image and of its roll-back
   target stay, and this release's mark (and any a stopped release left) goes. When what
   runs is unknown nothing is removed.

Any failure is published to the alarm topic and the execution fails as
``DeploymentFailed.<step>``. The notice names the tag, the step, what went wrong (for an
update CloudFormation rolled back: the stack events' first failure), what was restored, the
tag each service runs now, and whether an operator must act.

Step Functions gives ``Arguments`` only ``$states.input`` and ``$states.context``;
``$states.result`` exists in a Task's ``Output`` and ``Assign``, ``$states.errorOutput`` in a
``Catch`` (developer guide, "Passing data between states with variables"). Anything read
from a result is therefore assigned to a variable first.

The inputs are in ``layers.release.targets``. Each phase's states come from a module of its own:
``layers.release.start`` (step 1, with ``layers.release.asleep``'s refusal), ``layers.release.images`` (steps 2
and 8), ``layers.release.one_off`` (steps 3 and 6), ``layers.release.update`` (step 4, and step 7's cancel
and following the stack),
``layers.release.verify`` (step 5), ``layers.release.restore`` (step 7's putting back) and
``layers.release.notice`` (the failure path's ends and the notice). What they share
(SDK calls, failure notes, the compute stack's calls, the spec's budget) is in
``layers.release.states``. States name each other across phases, so every assembly of states
(below, and inside the phases) goes through ``merge_states``, which refuses two states of one
name, naming it and where each comes from, rather than letting one replace the other.
"""

from __future__ import annotations

from typing import Any

from layers.release.images import mark_images, tidy_marks
from layers.release.notice import failure_notice, release_failed
from layers.release.one_off import one_off
from layers.release.restore import restore_previous_tags
from layers.release.start import start
from layers.release.states import ReleaseContext, State, jsonata, merge_states
from layers.release.targets import ReleaseTargets
from layers.release.update import settle, update_services
from layers.release.verify import verify_services
from platform_spec import PlatformSpec


def _released() -> dict[str, State]:
    """The one successful end: the tag released, and a warning when the marks were not tidied."""
    return {
        "Released": {
            "Type": "Succeed",
            "Output": jsonata(
                "$merge([{'imageTag': $imageTag, 'releaseTag': $releaseTag},"
                " $type($marksNote) = 'string' ? {'warning': $marksNote} : {}])"
            ),
        }
    }


def release_definition(spec: PlatformSpec, targets: ReleaseTargets) -> dict[str, Any]:
    """The Amazon States Language definition of the release, as a dict."""
    release = ReleaseContext(spec, targets)
    return {
        "Comment": f"Release an image tag to {spec.stack_prefix}: migrations, services through "
        "CloudFormation, smoke tests; back to the previous tags on failure",
        "QueryLanguage": "JSONata",
        "TimeoutSeconds": spec.release_timeout_minutes * 60,
        "StartAt": "Start",
        # In the order the flow reads; the order is also the rendered definition's.
        "States": merge_states(
            ("start", start(release)),
            ("mark_images", mark_images(release)),
            (
                "one_off (migrations)",
                one_off(release, targets.migrations, on_failure="ReleaseFailed", next_state="ReleaseServices"),
            ),
            ("update_services", update_services(release)),
            ("settle", settle(release)),
            ("verify_services", verify_services(release)),
            (
                "one_off (smoke tests)",
                one_off(
                    release,
                    targets.smoke_tests,
                    on_failure="RollBack",
                    next_state="TidyMarks",
                    assign={"released": True},
                ),
            ),
            ("_released", _released()),
            ("restore_previous_tags", restore_previous_tags(release)),
            ("release_failed", release_failed()),
            ("tidy_marks", tidy_marks(release)),
            ("failure_notice", failure_notice(release)),
        ),
    }
