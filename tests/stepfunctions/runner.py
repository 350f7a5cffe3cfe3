"""Run Step Functions state machines (QueryLanguage JSONata) offline against scripted AWS responses.

``run`` hands a batch of :class:`Scenario` to one Node process (``interpreter.mjs`` next to this
file, on the repository's pinned Node) and returns one :class:`Trace` per scenario. JSONata is
evaluated by npm ``jsonata`` 2.0.6, the version Step Functions documents.

Scripted responses
    ``Scenario.responses`` maps a key to the responses of successive calls, consumed in order:
    ``{"result": <json>}``, ``{"error": "<Error>", "cause": "<text>"}`` (cause optional) or
    ``{"hang": True}`` (the call never returns); ``result`` and ``error`` responses may add
    ``"seconds": n``, the call's duration on the virtual clock. A Task state looks for the keys
    ``"<Resource>#<Outer/Inner qualified name>"``, ``"<Resource>#<StateName>"`` and ``"<Resource>"``
    in that order and uses the first key present (and only it). A call with no response left ends
    the run with status ``ERROR``/``ScriptExhausted`` naming the state and resource.

Trace
    ``status`` is ``SUCCEEDED``, ``FAILED`` (an uncaught error, or a Fail state: ``error``/``cause``),
    ``TIMED_OUT`` (the state machine's own ``TimeoutSeconds`` ran out: error ``States.Timeout``),
    ``HANGS`` (a Task got ``{"hang": True}`` and no timeout applies: error ``NoTimeout``, cause naming
    the state) or ``ERROR`` (a test-setup or definition problem the interpreter refuses: error
    ``Unsupported``, ``InvalidDefinition``, ``InvalidScript``, ``ScriptExhausted``,
    ``TransitionLimit`` or ``InterpreterError``, cause the message).
    ``states`` lists every state entered, in order (a retry is not a new entry); states inside a
    Parallel branch or Map iteration are qualified by the enclosing states: ``"Outer/Inner"``,
    ``"Outer/Middle/Inner"``. ``calls`` holds every Task invocation including retries, with the
    same qualified names. ``variables`` are the top-level workflow variables at the end.
    ``waited_seconds`` sums the Wait states; ``elapsed_seconds`` is the whole virtual clock (waits,
    retry intervals, call ``seconds``, timeouts). ``timeout_seconds`` is the definition's
    ``TimeoutSeconds``. ``unconsumed_responses`` counts scripted responses left over, per key.

Semantics (AWS developer guide, JSONata)
    * ``"{% expr %}"`` (the whole string) is JSONata anywhere in Arguments, Output, Assign, Items,
      ItemSelector, Condition, Seconds, Timestamp, Error, Cause, TimeoutSeconds, HeartbeatSeconds and
      MaxConcurrency; other strings are literals. ``$states.input`` and ``$states.context`` are always
      bound; ``$states.result`` only in the Output and Assign of Task, Parallel and Map;
      ``$states.errorOutput`` only in a catcher's Output and Assign. An expression that returns
      nothing (undefined), throws, or returns a non-JSON value fails the state with
      ``States.QueryEvaluationError``; so does a Choice Condition that is not a boolean, Map Items
      that are not an array, a Wait Seconds that is not a non-negative integer.
    * Step Functions' extra functions ``$partition $range $hash $random $uuid $parse`` exist
      (``$random``/``$uuid`` deterministic per scenario); ``$eval`` fails; ``$now()`` and
      ``$millis()`` read the virtual clock, which starts at ``Execution.StartTime``.
    * Assign: all values of one Assign block and the state's Output see the variables from before the
      state; assignments take effect when the state ends. A catcher's Assign replaces the state's.
      A matching Choice rule's Assign/Output are used; with no match, the state-level ones and
      ``Default``; no match and no Default: ``States.NoChoiceMatched``. Each Parallel branch and Map
      iteration gets its own scope: it reads outer variables, its own disappear when it ends, and
      assigning an outer variable from inside is refused (``ERROR``/``InvalidDefinition``).
    * Task: Arguments (default: the input) make the recorded call; output is Output (with
      ``$states.result``) or the result. Retry (MaxAttempts 3, IntervalSeconds 1, BackoffRate 2.0,
      MaxDelaySeconds; JitterStrategy is ignored, the un-jittered delay is used) then Catch (output:
      the catcher's Output, else ``{"Error", "Cause"}``). Errors of Arguments, the call, Items,
      ItemSelector, the branches/iterations and the state's Assign go through Retry/Catch; an error
      in the state's own Output fails the state. ``States.ALL`` matches all but ``States.Runtime``
      and ``States.DataLimitExceeded``; ``States.TaskFailed`` matches any error not in the
      ``States.`` namespace (and ``States.TaskFailed``/``States.Permissions``), so not
      ``States.Timeout`` nor ``States.QueryEvaluationError``. A hanging call with TimeoutSeconds or
      HeartbeatSeconds (the smaller) fails with ``States.Timeout``.
    * Parallel: branches run in order, each with the input (or Arguments); result: their outputs.
      Map: items run in order (MaxConcurrency is checked, then ignored); ItemSelector sees
      ``$states.context.Map.Item.Index``/``.Value``; ``ProcessorConfig.Mode`` must be INLINE. A
      failing branch or iteration fails the whole state with its own error.
    * Not implemented (status ``ERROR``/``Unsupported``): JSONPath states and fields (Parameters,
      ResultPath, ItemsPath, ...), JSONPath-style ``"key.$"`` names, Distributed Map and its fields
      (ItemReader, ItemBatcher, ResultWriter, tolerated failures), Task ``Credentials``, any other
      field not listed here.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

REPO_ROOT = Path(__file__).resolve().parents[2]
NODE_BIN = REPO_ROOT / "node_modules" / ".bin"
NODE = NODE_BIN / "node"
INTERPRETER = Path(__file__).resolve().with_name("interpreter.mjs")

Status = Literal["SUCCEEDED", "FAILED", "TIMED_OUT", "HANGS", "ERROR"]
Response = Mapping[str, Any]

HANG: Response = {"hang": True}


def result(value: Any, seconds: float | None = None) -> Response:
    """A scripted call that returns ``value`` (after ``seconds`` of virtual time)."""
    response: dict[str, Any] = {"result": value}
    if seconds is not None:
        response["seconds"] = seconds
    return response


def error(name: str, cause: str = "", seconds: float | None = None) -> Response:
    """A scripted call that fails with the error ``name``."""
    response: dict[str, Any] = {"error": name, "cause": cause}
    if seconds is not None:
        response["seconds"] = seconds
    return response


@dataclass(frozen=True)
class Call:
    state: str
    resource: str
    arguments: Any


@dataclass(frozen=True)
class Trace:
    status: Status
    error: str | None
    cause: str | None
    output: Any
    states: list[str]
    calls: list[Call]
    variables: dict[str, Any]
    waited_seconds: float = 0
    elapsed_seconds: float = 0
    timeout_seconds: int | None = None
    unconsumed_responses: dict[str, int] = field(default_factory=dict)

    def calls_to(self, resource: str) -> list[Call]:
        """The calls made to one resource ARN, in order."""
        return [call for call in self.calls if call.resource == resource]


@dataclass(frozen=True)
class Scenario:
    definition: Mapping[str, Any]
    input: Any = field(default_factory=dict)
    responses: Mapping[str, Sequence[Response]] = field(default_factory=dict)
    # Overrides of the context object, nested ({"Execution": {"Name": "x"}}) or dotted
    # ({"Execution.StartTime": "2025-06-01T00:00:00.000Z"}); Execution.Input is always the input.
    context: Mapping[str, Any] = field(default_factory=dict)


def _plain(value: object) -> object:
    """JSON encoder hook: Mapping and Sequence types that json does not know."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return list(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def _node_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{NODE_BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def _require_node() -> None:
    if not NODE.exists():
        raise RuntimeError(f"{NODE} is missing: run `npm ci` in {REPO_ROOT} (make install does)")


def _trace(raw: Mapping[str, Any]) -> Trace:
    return Trace(
        status=cast(Status, raw["status"]),
        error=raw["error"],
        cause=raw["cause"],
        output=raw["output"],
        states=list(raw["states"]),
        calls=[Call(state=c["state"], resource=c["resource"], arguments=c["arguments"]) for c in raw["calls"]],
        variables=dict(raw["variables"]),
        waited_seconds=raw["waited_seconds"],
        elapsed_seconds=raw["elapsed_seconds"],
        timeout_seconds=raw["timeout_seconds"],
        unconsumed_responses=dict(raw["unconsumed_responses"]),
    )


def run(scenarios: Sequence[Scenario]) -> list[Trace]:
    """Execute every scenario in one Node process; one trace per scenario, in order."""
    if not scenarios:
        return []
    _require_node()
    request = {
        "scenarios": [
            {"definition": s.definition, "input": s.input, "responses": s.responses, "context": s.context}
            for s in scenarios
        ]
    }
    completed = subprocess.run(
        [str(NODE), str(INTERPRETER)],
        input=json.dumps(request, default=_plain),
        capture_output=True,
        text=True,
        env=_node_env(),
        check=False,
        timeout=120,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"the Step Functions interpreter crashed ({completed.returncode}):\n{completed.stderr}")
    traces = json.loads(completed.stdout)["traces"]
    return [_trace(raw) for raw in traces]


def run_one(scenario: Scenario) -> Trace:
    """Execute a single scenario (prefer ``run`` with a batch: one Node start per batch)."""
    return run([scenario])[0]


def validate(definition: Mapping[str, Any]) -> list[str]:
    """asl-validator's messages for a definition ("CODE: message"); empty when it is valid."""
    _require_node()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "definition.asl.json"
        path.write_text(json.dumps(definition, default=_plain), encoding="utf-8")
        completed = subprocess.run(
            [str(NODE_BIN / "asl-validator"), "--json-path", str(path)],
            capture_output=True,
            text=True,
            env=_node_env(),
            check=False,
            timeout=120,
        )
    if completed.returncode == 0:
        return []
    if completed.returncode == 1:
        # stderr: a header line ("✕ State machine definition ... is invalid:") then one error a line.
        lines = [line.strip() for line in completed.stderr.splitlines()[1:]]
        return [line for line in lines if line] or [completed.stderr.strip()]
    raise RuntimeError(f"asl-validator failed ({completed.returncode}):\n{completed.stderr}{completed.stdout}")
