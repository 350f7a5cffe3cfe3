// Offline interpreter of AWS Step Functions state machines written in JSONata.
//
// Reads {"scenarios": [...]} as JSON on standard input and writes {"traces": [...]} on standard
// output, one trace per scenario, in order. tests/stepfunctions/runner.py is the Python side; its
// docstring describes the scenario and trace formats and the semantics implemented here.
//
// JSONata expressions are evaluated by the npm package jsonata 2.0.6, the version Step Functions
// documents. Anything the interpreter does not implement (JSONPath states, Distributed Map, ...)
// ends the scenario with status "ERROR" instead of being ignored.

import crypto from "node:crypto";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const jsonata = require("jsonata");

const DEFAULT_START_TIME = "2025-01-01T00:00:00.000Z";
const MAX_STATE_ENTRIES = 25000;
const QUERY_ERROR = "States.QueryEvaluationError";

// Errors that a States.ALL retrier or catcher does not match (AWS: terminal error types).
const UNCATCHABLE_BY_ALL = new Set(["States.Runtime", "States.DataLimitExceeded"]);
// States.* names that States.TaskFailed matches besides every name outside the States. namespace.
const TASK_FAILED_STATES_ERRORS = new Set(["States.TaskFailed", "States.Permissions"]);

// A Step Functions error raised by a state: Retry and Catch of the enclosing states can handle it.
class Failure extends Error {
  constructor(error, cause) {
    super(`${error}: ${cause}`);
    this.error = error;
    this.cause = cause;
  }
}

// Ends the whole execution at once: a setup or definition problem (ERROR), a hang (HANGS) or the
// state machine's own TimeoutSeconds (TIMED_OUT). No Retry or Catch sees it.
class Abort extends Error {
  constructor(status, error, cause) {
    super(`${status} ${error}: ${cause}`);
    this.status = status;
    this.error = error;
    this.cause = cause;
  }
}

const unsupported = (message) => new Abort("ERROR", "Unsupported", message);
const invalid = (message) => new Abort("ERROR", "InvalidDefinition", message);

// ---------------------------------------------------------------------------------------------
// Definition checks, run before the execution starts so that an unknown field is reported even
// when the state holding it is never reached.

const COMMON_FIELDS = ["Type", "Comment", "QueryLanguage"];
const FIELDS = {
  Task: [
    "Resource", "Arguments", "Output", "Assign", "Next", "End", "Retry", "Catch",
    "TimeoutSeconds", "HeartbeatSeconds",
  ],
  Parallel: ["Branches", "Arguments", "Output", "Assign", "Next", "End", "Retry", "Catch"],
  Map: [
    "Items", "ItemSelector", "ItemProcessor", "Iterator", "MaxConcurrency", "Output", "Assign",
    "Next", "End", "Retry", "Catch",
  ],
  Pass: ["Output", "Assign", "Next", "End"],
  Wait: ["Seconds", "Timestamp", "Output", "Assign", "Next", "End"],
  Choice: ["Choices", "Default", "Output", "Assign"],
  Succeed: ["Output"],
  Fail: ["Error", "Cause"],
};
const JSONPATH_FIELDS = new Set([
  "InputPath", "Parameters", "ResultSelector", "ResultPath", "OutputPath", "Result",
  "ItemsPath", "TimeoutSecondsPath", "HeartbeatSecondsPath", "SecondsPath", "TimestampPath",
  "ErrorPath", "CausePath", "MaxConcurrencyPath",
]);
const RETRIER_FIELDS = new Set([
  "ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate", "MaxDelaySeconds", "JitterStrategy", "Comment",
]);
const CATCHER_FIELDS = new Set(["ErrorEquals", "Next", "Output", "Assign", "Comment"]);
const CHOICE_RULE_FIELDS = new Set(["Condition", "Next", "Assign", "Output", "Comment"]);
const MACHINE_FIELDS = new Set(["StartAt", "States", "Comment", "Version", "TimeoutSeconds", "QueryLanguage"]);
const BRANCH_FIELDS = new Set(["StartAt", "States", "Comment"]);
const PROCESSOR_FIELDS = new Set(["StartAt", "States", "Comment", "ProcessorConfig"]);

const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
const isNonNegativeInteger = (v) => typeof v === "number" && Number.isInteger(v) && v >= 0;

// The expression inside "{% ... %}", or null for a literal string.
function expressionOf(value) {
  if (typeof value !== "string" || !value.startsWith("{%") || !value.endsWith("%}") || value.length < 4) {
    return null;
  }
  return value.slice(2, -2).trim();
}

const compiled = new Map();
function compile(expression, where) {
  let ast = compiled.get(expression);
  if (ast === undefined) {
    try {
      ast = jsonata(expression);
    } catch (err) {
      throw invalid(`${where}: the JSONata expression '${expression}' does not parse: ${err.code}: ${err.message}`);
    }
    compiled.set(expression, ast);
  }
  return ast;
}

// Walks a JSON template (Arguments, Output, Assign values, ...): compiles each expression and
// refuses JSONPath-style "key.$" names, which a JSONata state does not evaluate.
function checkTemplate(value, where) {
  if (typeof value === "string") {
    const expression = expressionOf(value);
    if (expression !== null) compile(expression, where);
  } else if (Array.isArray(value)) {
    value.forEach((item, i) => checkTemplate(item, `${where}[${i}]`));
  } else if (isObject(value)) {
    for (const [key, item] of Object.entries(value)) {
      if (key.endsWith(".$")) {
        throw unsupported(`${where}: the key '${key}' is JSONPath syntax; a JSONata state does not evaluate it`);
      }
      checkTemplate(item, `${where}.${key}`);
    }
  }
}

function checkAssign(assign, where) {
  if (!isObject(assign)) throw invalid(`${where} must be an object`);
  for (const [name, value] of Object.entries(assign)) {
    if (name === "" || name === "states" || /[.[\]$\s]/u.test(name)) {
      throw invalid(`${where}: '${name}' is not a valid variable name`);
    }
    checkTemplate(value, `${where}.${name}`);
  }
}

function checkErrorEquals(list, where, isLast) {
  if (!Array.isArray(list) || list.length === 0 || !list.every((e) => typeof e === "string")) {
    throw invalid(`${where}.ErrorEquals must be a non-empty array of strings`);
  }
  if (list.includes("States.ALL")) {
    if (list.length !== 1) throw invalid(`${where}: States.ALL must appear alone in ErrorEquals`);
    if (!isLast) throw invalid(`${where}: States.ALL must be in the last retrier or catcher`);
  }
}

function checkFields(object, allowed, where) {
  for (const key of Object.keys(object)) {
    if (!allowed.has(key)) throw unsupported(`${where}: field '${key}' is not supported by the interpreter`);
  }
}

function checkMachine(machine, where, queryLanguage, fields) {
  if (!isObject(machine)) throw invalid(`${where} must be an object`);
  checkFields(machine, fields, where);
  if (!isObject(machine.States) || Object.keys(machine.States).length === 0) {
    throw invalid(`${where}.States must be a non-empty object`);
  }
  if (typeof machine.StartAt !== "string" || !(machine.StartAt in machine.States)) {
    throw invalid(`${where}.StartAt names no state of its States: ${JSON.stringify(machine.StartAt)}`);
  }
  const target = (next, at) => {
    if (typeof next !== "string" || !(next in machine.States)) {
      throw invalid(`${at}: ${JSON.stringify(next)} names no state of the same States object`);
    }
  };
  for (const [name, state] of Object.entries(machine.States)) {
    checkState(state, `${where}.States.${name}`, queryLanguage, target);
  }
}

function checkState(state, where, inherited, target) {
  if (!isObject(state)) throw invalid(`${where} must be an object`);
  const language = state.QueryLanguage ?? inherited;
  if (language !== "JSONata") {
    throw unsupported(`${where}: query language ${JSON.stringify(language)}; only JSONata states are supported`);
  }
  const own = FIELDS[state.Type];
  if (own === undefined) throw unsupported(`${where}: state type ${JSON.stringify(state.Type)} is not supported`);
  for (const key of Object.keys(state)) {
    if (COMMON_FIELDS.includes(key) || own.includes(key)) continue;
    if (JSONPATH_FIELDS.has(key)) {
      throw unsupported(`${where}: '${key}' is a JSONPath field; it has no meaning in a JSONata state`);
    }
    throw unsupported(`${where}: field '${key}' of a ${state.Type} state is not supported by the interpreter`);
  }
  const terminal = ["Choice", "Succeed", "Fail"].includes(state.Type);
  if (!terminal) {
    const hasNext = state.Next !== undefined;
    const hasEnd = state.End !== undefined;
    if (hasNext === hasEnd) throw invalid(`${where} must have exactly one of Next and End`);
    if (hasEnd && state.End !== true) throw invalid(`${where}.End must be true`);
    if (hasNext) target(state.Next, `${where}.Next`);
  }
  for (const field of ["Arguments", "Output", "Items", "ItemSelector", "Error", "Cause", "Seconds", "Timestamp",
    "TimeoutSeconds", "HeartbeatSeconds", "MaxConcurrency"]) {
    if (state[field] !== undefined) checkTemplate(state[field], `${where}.${field}`);
  }
  if (state.Assign !== undefined) checkAssign(state.Assign, `${where}.Assign`);
  if (state.Retry !== undefined) {
    if (!Array.isArray(state.Retry)) throw invalid(`${where}.Retry must be an array`);
    state.Retry.forEach((retrier, i) => {
      const at = `${where}.Retry[${i}]`;
      if (!isObject(retrier)) throw invalid(`${at} must be an object`);
      checkFields(retrier, RETRIER_FIELDS, at);
      checkErrorEquals(retrier.ErrorEquals, at, i === state.Retry.length - 1);
      if (retrier.IntervalSeconds !== undefined && !(isNonNegativeInteger(retrier.IntervalSeconds) && retrier.IntervalSeconds > 0)) {
        throw invalid(`${at}.IntervalSeconds must be a positive integer`);
      }
      if (retrier.MaxAttempts !== undefined && !isNonNegativeInteger(retrier.MaxAttempts)) {
        throw invalid(`${at}.MaxAttempts must be a non-negative integer`);
      }
      if (retrier.BackoffRate !== undefined && !(typeof retrier.BackoffRate === "number" && retrier.BackoffRate >= 1)) {
        throw invalid(`${at}.BackoffRate must be a number >= 1.0`);
      }
      if (retrier.MaxDelaySeconds !== undefined && !(isNonNegativeInteger(retrier.MaxDelaySeconds) && retrier.MaxDelaySeconds > 0)) {
        throw invalid(`${at}.MaxDelaySeconds must be a positive integer`);
      }
      if (retrier.JitterStrategy !== undefined && !["FULL", "NONE"].includes(retrier.JitterStrategy)) {
        throw invalid(`${at}.JitterStrategy must be FULL or NONE`);
      }
    });
  }
  if (state.Catch !== undefined) {
    if (!Array.isArray(state.Catch)) throw invalid(`${where}.Catch must be an array`);
    state.Catch.forEach((catcher, i) => {
      const at = `${where}.Catch[${i}]`;
      if (!isObject(catcher)) throw invalid(`${at} must be an object`);
      checkFields(catcher, CATCHER_FIELDS, at);
      checkErrorEquals(catcher.ErrorEquals, at, i === state.Catch.length - 1);
      target(catcher.Next, `${at}.Next`);
      if (catcher.Output !== undefined) checkTemplate(catcher.Output, `${at}.Output`);
      if (catcher.Assign !== undefined) checkAssign(catcher.Assign, `${at}.Assign`);
    });
  }
  switch (state.Type) {
    case "Task":
      if (typeof state.Resource !== "string" || state.Resource === "") {
        throw invalid(`${where}.Resource must be a non-empty string (got ${JSON.stringify(state.Resource)})`);
      }
      break;
    case "Parallel":
      if (!Array.isArray(state.Branches) || state.Branches.length === 0) {
        throw invalid(`${where}.Branches must be a non-empty array`);
      }
      state.Branches.forEach((branch, i) => checkMachine(branch, `${where}.Branches[${i}]`, language, BRANCH_FIELDS));
      break;
    case "Map": {
      const processor = state.ItemProcessor ?? state.Iterator;
      if ((state.ItemProcessor === undefined) === (state.Iterator === undefined)) {
        throw invalid(`${where} must have exactly one of ItemProcessor and Iterator`);
      }
      checkMachine(processor, `${where}.ItemProcessor`, language, PROCESSOR_FIELDS);
      const config = processor.ProcessorConfig;
      if (config !== undefined) {
        if (!isObject(config)) throw invalid(`${where}.ItemProcessor.ProcessorConfig must be an object`);
        checkFields(config, new Set(["Mode"]), `${where}.ItemProcessor.ProcessorConfig`);
        if (config.Mode !== undefined && config.Mode !== "INLINE") {
          throw unsupported(`${where}: ProcessorConfig.Mode ${JSON.stringify(config.Mode)}; only INLINE Map states are supported`);
        }
      }
      if (state.Items !== undefined && expressionOf(state.Items) === null && !Array.isArray(state.Items)) {
        throw invalid(`${where}.Items must be a JSON array or a JSONata expression`);
      }
      break;
    }
    case "Wait": {
      const count = ["Seconds", "Timestamp"].filter((f) => state[f] !== undefined).length;
      if (count !== 1) throw invalid(`${where} must have exactly one of Seconds and Timestamp`);
      break;
    }
    case "Choice":
      if (!Array.isArray(state.Choices) || state.Choices.length === 0) {
        throw invalid(`${where}.Choices must be a non-empty array`);
      }
      state.Choices.forEach((rule, i) => {
        const at = `${where}.Choices[${i}]`;
        if (!isObject(rule)) throw invalid(`${at} must be an object`);
        checkFields(rule, CHOICE_RULE_FIELDS, at);
        if (rule.Condition === undefined) throw invalid(`${at} has no Condition`);
        checkTemplate(rule.Condition, `${at}.Condition`);
        target(rule.Next, `${at}.Next`);
        if (rule.Output !== undefined) checkTemplate(rule.Output, `${at}.Output`);
        if (rule.Assign !== undefined) checkAssign(rule.Assign, `${at}.Assign`);
      });
      if (state.Default !== undefined) target(state.Default, `${where}.Default`);
      break;
    default:
      break;
  }
}

// ---------------------------------------------------------------------------------------------
// Values

// Turns a JSONata result into plain JSON; null when it holds something JSON cannot represent.
function toJson(value) {
  if (value === undefined) return { ok: false, type: "undefined" };
  let bad = null;
  const walk = (v) => {
    if (bad !== null) return;
    if (typeof v === "function" || (v !== null && typeof v === "object" && (v._jsonata_lambda || v._jsonata_function))) {
      bad = "function";
    } else if (typeof v === "number" && !Number.isFinite(v)) {
      bad = "number";
    } else if (Array.isArray(v)) {
      v.forEach(walk);
    } else if (v !== null && typeof v === "object") {
      Object.values(v).forEach(walk);
    }
  };
  walk(value);
  if (bad !== null) return { ok: false, type: bad };
  return { ok: true, value: JSON.parse(JSON.stringify(value)) };
}

function jsonType(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

function clone(value) {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

function deepMerge(base, override) {
  const out = { ...base };
  for (const [key, value] of Object.entries(override ?? {})) {
    if (key.includes(".")) {
      const [head, ...rest] = key.split(".");
      out[head] = deepMerge(isObject(out[head]) ? out[head] : {}, { [rest.join(".")]: value });
    } else if (isObject(value) && isObject(out[key])) {
      out[key] = deepMerge(out[key], value);
    } else {
      out[key] = clone(value);
    }
  }
  return out;
}

// Deterministic pseudo-random numbers (mulberry32) so that $random() and $uuid() repeat.
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function sfnError(code, message) {
  const err = new Error(message);
  err.code = code;
  return err;
}

// ---------------------------------------------------------------------------------------------
// Variables: the top level is one scope; each Parallel branch and Map iteration runs in a child
// scope that reads its ancestors' variables and whose own variables vanish when it ends.

class Scope {
  constructor(parent) {
    this.parent = parent;
    this.vars = {};
  }

  all() {
    return { ...(this.parent ? this.parent.all() : {}), ...this.vars };
  }

  ownerOf(name) {
    if (Object.hasOwn(this.vars, name)) return this;
    return this.parent ? this.parent.ownerOf(name) : null;
  }
}

// ---------------------------------------------------------------------------------------------

class Execution {
  constructor(scenario, index) {
    this.definition = scenario.definition;
    this.input = scenario.input === undefined ? {} : scenario.input;
    this.responses = new Map();
    for (const [key, list] of Object.entries(scenario.responses ?? {})) {
      if (!Array.isArray(list)) {
        throw new Abort("ERROR", "InvalidScript", `responses[${JSON.stringify(key)}] must be a list of responses`);
      }
      list.forEach((response, i) => checkResponse(response, `responses[${JSON.stringify(key)}][${i}]`));
      this.responses.set(key, { list, used: 0 });
    }
    const machineName = scenario.context?.StateMachine?.Name ?? scenario.context?.["StateMachine.Name"] ?? "StateMachine";
    const executionName = scenario.context?.Execution?.Name ?? scenario.context?.["Execution.Name"] ?? "test-execution";
    const base = {
      Execution: {
        Id: `arn:aws:states:us-east-1:123456789012:execution:${machineName}:${executionName}`,
        Name: executionName,
        StartTime: DEFAULT_START_TIME,
        RoleArn: "arn:aws:iam::123456789012:role/StateMachineRole",
        RedriveCount: 0,
      },
      StateMachine: {
        Id: `arn:aws:states:us-east-1:123456789012:stateMachine:${machineName}`,
        Name: machineName,
      },
    };
    this.context = deepMerge(base, scenario.context ?? {});
    this.context.Execution.Input = clone(this.input);
    this.startMs = Date.parse(this.context.Execution.StartTime);
    if (Number.isNaN(this.startMs)) {
      throw new Abort("ERROR", "InvalidScript", `context Execution.StartTime is not a timestamp: ${this.context.Execution.StartTime}`);
    }
    this.clockMs = 0;
    this.waitedMs = 0;
    this.timeoutSeconds = null;
    this.states = [];
    this.calls = [];
    this.tokens = 0;
    this.random = prng(0x5eed + index);
    this.root = new Scope(null);
    this.functions = this.buildFunctions();
  }

  buildFunctions() {
    const self = this;
    const formatter = jsonata("$fromMillis($ms, $picture, $tz)");
    return {
      now: async (picture, timezone) => {
        const ms = self.startMs + self.clockMs;
        if (picture === undefined && timezone === undefined) return new Date(ms).toISOString();
        return formatter.evaluate(undefined, { ms, picture, tz: timezone });
      },
      millis: () => self.startMs + self.clockMs,
      eval: () => {
        throw sfnError("SFN", "The $eval function is not available in Step Functions; use $parse");
      },
      parse: (text) => {
        if (typeof text !== "string") throw sfnError("SFN", "$parse expects a JSON string");
        try {
          return JSON.parse(text);
        } catch (err) {
          throw sfnError("SFN", `$parse could not parse its argument: ${err.message}`);
        }
      },
      partition: (array, size) => {
        if (!Array.isArray(array)) throw sfnError("SFN", "$partition expects an array as its first argument");
        if (!Number.isInteger(size) || size <= 0) throw sfnError("SFN", "$partition expects a positive integer size");
        const out = [];
        for (let i = 0; i < array.length; i += size) out.push(array.slice(i, i + size));
        return out;
      },
      range: (start, end, step = 1) => {
        if (![start, end, step].every((n) => typeof n === "number" && Number.isFinite(n)) || step === 0) {
          throw sfnError("SFN", "$range expects numeric start, end and a non-zero step");
        }
        const out = [];
        for (let n = start; step > 0 ? n <= end : n >= end; n += step) {
          out.push(n);
          if (out.length > 1000) throw sfnError("SFN", "$range would produce more than 1000 items");
        }
        return out;
      },
      hash: (data, algorithm) => {
        const algorithms = { MD5: "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512" };
        if (typeof data !== "string") throw sfnError("SFN", "$hash expects a string to hash");
        if (!(algorithm in algorithms)) throw sfnError("SFN", `$hash: unsupported algorithm ${JSON.stringify(algorithm)}`);
        return crypto.createHash(algorithms[algorithm]).update(data, "utf8").digest("hex");
      },
      random: (seed) => (seed === undefined ? self.random() : prng(Math.trunc(seed))()),
      uuid: () => {
        const bytes = Array.from({ length: 16 }, () => Math.floor(self.random() * 256));
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        const hex = bytes.map((b) => b.toString(16).padStart(2, "0")).join("");
        return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
      },
    };
  }

  nowIso() {
    return new Date(this.startMs + this.clockMs).toISOString();
  }

  // Moves the virtual clock on; the state machine's TimeoutSeconds ends the execution.
  advance(seconds) {
    if (this.timeoutSeconds !== null && this.clockMs + seconds * 1000 > this.timeoutSeconds * 1000) {
      this.clockMs = this.timeoutSeconds * 1000;
      throw new Abort("TIMED_OUT", "States.Timeout",
        `The execution ran longer than the state machine's TimeoutSeconds (${this.timeoutSeconds})`);
    }
    this.clockMs += seconds * 1000;
  }

  // ---- expressions

  async evaluate(expression, env, field) {
    const ast = compile(expression, `${env.stateName}.${field}`);
    const states = { input: env.input, context: env.context };
    if (env.result !== undefined) states.result = env.result;
    if (env.errorOutput !== undefined) states.errorOutput = env.errorOutput;
    const bindings = { ...this.functions, ...env.scope.all(), states };
    const where = `An error occurred while executing the state '${env.stateName}'.`;
    let value;
    try {
      value = await ast.evaluate(undefined, bindings);
    } catch (err) {
      if (err instanceof Abort) throw err;
      const code = err && err.code ? `${err.code}: ` : "";
      throw new Failure(QUERY_ERROR,
        `${where} The JSONata expression '${expression}' specified for the field '${field}' threw an error during evaluation. ${code}${err && err.message}`);
    }
    const json = toJson(value);
    if (!json.ok) {
      if (json.type === "undefined") {
        throw new Failure(QUERY_ERROR,
          `${where} The JSONata expression '${expression}' specified for the field '${field}' returned nothing (undefined).`);
      }
      throw new Failure(QUERY_ERROR,
        `${where} The JSONata expression '${expression}' specified for the field '${field}' returned an unsupported result type (${json.type}).`);
    }
    return json.value;
  }

  async template(value, env, field) {
    if (typeof value === "string") {
      const expression = expressionOf(value);
      return expression === null ? value : this.evaluate(expression, env, field);
    }
    if (Array.isArray(value)) {
      const out = [];
      for (let i = 0; i < value.length; i += 1) out.push(await this.template(value[i], env, `${field}[${i}]`));
      return out;
    }
    if (isObject(value)) {
      const out = {};
      for (const [key, item] of Object.entries(value)) out[key] = await this.template(item, env, `${field}.${key}`);
      return out;
    }
    return value;
  }

  async typed(value, env, field, check, expected) {
    const result = await this.template(value, env, field);
    if (!check(result)) {
      const expression = expressionOf(value);
      const subject = expression === null ? `The value of the field '${field}'` : `The JSONata expression '${expression}' specified for the field '${field}'`;
      throw new Failure(QUERY_ERROR,
        `An error occurred while executing the state '${env.stateName}'. ${subject} returned an unexpected result type. Expected '${expected}', but was '${jsonType(result)}' for value: ${JSON.stringify(result)}`);
    }
    return result;
  }

  // Evaluates every value of an Assign block against the variables as they were on entry.
  async assignments(assign, env, field) {
    if (assign === undefined) return null;
    const pending = {};
    for (const [name, value] of Object.entries(assign)) pending[name] = await this.template(value, env, `${field}.${name}`);
    return pending;
  }

  commit(pending, scope, stateName) {
    if (pending === null) return;
    for (const [name, value] of Object.entries(pending)) {
      const owner = scope.ownerOf(name);
      if (owner !== null && owner !== scope) {
        throw invalid(`state '${stateName}' assigns the variable '${name}', which belongs to an outer scope; `
          + "a Parallel branch or Map iteration cannot assign an outer variable");
      }
      scope.vars[name] = value;
    }
  }

  // ---- running

  async runMachine(machine, input, scope, prefix) {
    let name = machine.StartAt;
    let value = input;
    for (;;) {
      if (this.states.length >= MAX_STATE_ENTRIES) {
        throw new Abort("ERROR", "TransitionLimit", `more than ${MAX_STATE_ENTRIES} states entered; the definition probably loops forever`);
      }
      const qualified = prefix + name;
      this.states.push(qualified);
      const state = machine.States[name];
      const entered = this.nowIso();
      const outcome = await this.runState(name, qualified, state, clone(value), scope, entered);
      if (outcome.next === null) return outcome.output;
      name = outcome.next;
      value = outcome.output;
    }
  }

  stateContext(name, entered, retryCount, extra = {}) {
    const context = clone(this.context);
    context.State = { EnteredTime: entered, Name: name, RetryCount: retryCount };
    return { ...context, ...extra };
  }

  async runState(name, qualified, state, input, scope, entered) {
    const base = { stateName: name, input, scope };
    const next = state.End === true ? null : (state.Next ?? null);
    switch (state.Type) {
      case "Pass": {
        const env = { ...base, context: this.stateContext(name, entered, 0) };
        const pending = await this.assignments(state.Assign, env, "Assign");
        const output = state.Output === undefined ? input : await this.template(state.Output, env, "Output");
        this.commit(pending, scope, name);
        return { output, next };
      }
      case "Wait": {
        const env = { ...base, context: this.stateContext(name, entered, 0) };
        let seconds;
        if (state.Seconds !== undefined) {
          seconds = await this.typed(state.Seconds, env, "Seconds", isNonNegativeInteger, "non-negative integer");
        } else {
          const stamp = await this.typed(state.Timestamp, env, "Timestamp", (v) => typeof v === "string"
            && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/u.test(v) && !Number.isNaN(Date.parse(v)),
          "RFC3339 timestamp string");
          seconds = Math.max(0, (Date.parse(stamp) - (this.startMs + this.clockMs)) / 1000);
        }
        this.advance(seconds);
        this.waitedMs += seconds * 1000;
        const pending = await this.assignments(state.Assign, env, "Assign");
        const output = state.Output === undefined ? input : await this.template(state.Output, env, "Output");
        this.commit(pending, scope, name);
        return { output, next };
      }
      case "Choice": {
        const env = { ...base, context: this.stateContext(name, entered, 0) };
        for (let i = 0; i < state.Choices.length; i += 1) {
          const rule = state.Choices[i];
          const matched = await this.typed(rule.Condition, env, `Choices[${i}].Condition`, (v) => typeof v === "boolean", "boolean");
          if (matched) {
            const pending = await this.assignments(rule.Assign, env, `Choices[${i}].Assign`);
            const output = rule.Output === undefined ? input : await this.template(rule.Output, env, `Choices[${i}].Output`);
            this.commit(pending, scope, name);
            return { output, next: rule.Next };
          }
        }
        if (state.Default === undefined) {
          throw new Failure("States.NoChoiceMatched", `No Choice Rule matched in the Choice state '${name}' and it has no Default`);
        }
        const pending = await this.assignments(state.Assign, env, "Assign");
        const output = state.Output === undefined ? input : await this.template(state.Output, env, "Output");
        this.commit(pending, scope, name);
        return { output, next: state.Default };
      }
      case "Succeed": {
        const env = { ...base, context: this.stateContext(name, entered, 0) };
        const output = state.Output === undefined ? input : await this.template(state.Output, env, "Output");
        return { output, next: null };
      }
      case "Fail": {
        const env = { ...base, context: this.stateContext(name, entered, 0) };
        const isString = (v) => typeof v === "string";
        const error = state.Error === undefined ? null : await this.typed(state.Error, env, "Error", isString, "string");
        const cause = state.Cause === undefined ? null : await this.typed(state.Cause, env, "Cause", isString, "string");
        throw new Failure(error, cause);
      }
      case "Task":
        return this.runWithErrorHandling(name, state, base, entered, next, (context) => this.task(name, qualified, state, { ...base, context }));
      case "Parallel":
        return this.runWithErrorHandling(name, state, base, entered, next, (context) => this.parallel(qualified, state, { ...base, context }));
      case "Map":
        return this.runWithErrorHandling(name, state, base, entered, next, (context) => this.map(qualified, state, { ...base, context }));
      default:
        throw unsupported(`state type ${state.Type}`);
    }
  }

  // Task, Parallel and Map: the work, Assign, Retry and Catch. Errors of the work and of the
  // state's Assign go through Retry and Catch; an error of the state's Output fails the state.
  async runWithErrorHandling(name, state, base, entered, next, work) {
    const retriers = state.Retry ?? [];
    const attempts = retriers.map(() => 0);
    let retryCount = 0;
    for (;;) {
      const context = this.stateContext(name, entered, retryCount);
      let result;
      let pending;
      try {
        result = await work(context);
        pending = await this.assignments(state.Assign, { ...base, context, result }, "Assign");
      } catch (err) {
        if (!(err instanceof Failure)) throw err;
        const r = retriers.findIndex((retrier) => errorMatches(retrier.ErrorEquals, err.error));
        if (r >= 0 && attempts[r] < (retriers[r].MaxAttempts ?? 3)) {
          const retrier = retriers[r];
          let delay = (retrier.IntervalSeconds ?? 1) * (retrier.BackoffRate ?? 2.0) ** attempts[r];
          if (retrier.MaxDelaySeconds !== undefined) delay = Math.min(delay, retrier.MaxDelaySeconds);
          attempts[r] += 1;
          retryCount += 1;
          this.advance(delay);
          continue;
        }
        const c = (state.Catch ?? []).findIndex((catcher) => errorMatches(catcher.ErrorEquals, err.error));
        if (c < 0) throw err;
        const catcher = state.Catch[c];
        const errorOutput = { Error: err.error ?? "", Cause: err.cause ?? "" };
        const env = { ...base, context, errorOutput };
        const caught = await this.assignments(catcher.Assign, env, `Catch[${c}].Assign`);
        const output = catcher.Output === undefined ? errorOutput : await this.template(catcher.Output, env, `Catch[${c}].Output`);
        this.commit(caught, base.scope, name);
        return { output, next: catcher.Next };
      }
      const output = state.Output === undefined ? result
        : await this.template(state.Output, { ...base, context, result }, "Output");
      this.commit(pending, base.scope, name);
      return { output, next };
    }
  }

  async task(name, qualified, state, env) {
    const resource = state.Resource;
    if (resource.endsWith(".waitForTaskToken")) {
      this.tokens += 1;
      env.context.Task = { Token: `task-token-${this.tokens}` };
    }
    const positive = (v) => Number.isInteger(v) && v > 0;
    const timeout = state.TimeoutSeconds === undefined ? null
      : await this.typed(state.TimeoutSeconds, env, "TimeoutSeconds", positive, "positive integer");
    const heartbeat = state.HeartbeatSeconds === undefined ? null
      : await this.typed(state.HeartbeatSeconds, env, "HeartbeatSeconds", positive, "positive integer");
    const args = state.Arguments === undefined ? env.input : await this.template(state.Arguments, env, "Arguments");
    this.calls.push({ state: qualified, resource, arguments: args });
    const response = this.nextResponse(resource, qualified, name);
    const limits = [timeout, heartbeat].filter((v) => v !== null);
    const limit = limits.length ? Math.min(...limits) : null;
    if (response.hang === true) {
      if (limit !== null) {
        this.advance(limit);
        throw new Failure("States.Timeout", `The Task state '${qualified}' (resource ${resource}) did not return within ${limit} seconds`);
      }
      if (this.timeoutSeconds !== null) this.advance(Infinity);
      throw new Abort("HANGS", "NoTimeout",
        `The Task state '${qualified}' (resource ${resource}) never returns, and neither the state (TimeoutSeconds, HeartbeatSeconds) nor the state machine (TimeoutSeconds) has a timeout: the execution would hang forever`);
    }
    const seconds = response.seconds ?? 0;
    if (limit !== null && seconds > limit) {
      this.advance(limit);
      throw new Failure("States.Timeout", `The Task state '${qualified}' (resource ${resource}) did not return within ${limit} seconds`);
    }
    this.advance(seconds);
    if (response.error !== undefined) throw new Failure(response.error, response.cause ?? "");
    return clone(response.result);
  }

  nextResponse(resource, qualified, name) {
    const keys = [...new Set([`${resource}#${qualified}`, `${resource}#${name}`, resource])];
    const key = keys.find((k) => this.responses.has(k));
    if (key === undefined) {
      throw new Abort("ERROR", "ScriptExhausted",
        `No response is scripted for the Task state '${qualified}' calling ${resource} (looked for the keys ${keys.map((k) => `'${k}'`).join(", ")})`);
    }
    const queue = this.responses.get(key);
    if (queue.used >= queue.list.length) {
      throw new Abort("ERROR", "ScriptExhausted",
        `The Task state '${qualified}' called ${resource} once more than scripted: all ${queue.list.length} response(s) under the key '${key}' were already consumed`);
    }
    const response = queue.list[queue.used];
    queue.used += 1;
    return response;
  }

  async parallel(qualified, state, env) {
    const input = state.Arguments === undefined ? env.input : await this.template(state.Arguments, env, "Arguments");
    const results = [];
    for (const branch of state.Branches) {
      results.push(await this.runMachine(branch, clone(input), new Scope(env.scope), `${qualified}/`));
    }
    return results;
  }

  async map(qualified, state, env) {
    let items;
    if (state.Items === undefined) {
      items = env.input;
      if (!Array.isArray(items)) {
        throw new Failure(QUERY_ERROR,
          `An error occurred while executing the state '${env.stateName}'. The Map state has no Items and its input is not an array: Expected 'array', but was '${jsonType(items)}'`);
      }
    } else {
      items = await this.typed(state.Items, env, "Items", Array.isArray, "array");
    }
    if (state.MaxConcurrency !== undefined) {
      await this.typed(state.MaxConcurrency, env, "MaxConcurrency", isNonNegativeInteger, "non-negative integer");
    }
    const processor = state.ItemProcessor ?? state.Iterator;
    const results = [];
    for (let index = 0; index < items.length; index += 1) {
      let itemInput = items[index];
      if (state.ItemSelector !== undefined) {
        const context = { ...env.context, Map: { Item: { Index: index, Value: clone(items[index]) } } };
        itemInput = await this.template(state.ItemSelector, { ...env, context }, "ItemSelector");
      }
      results.push(await this.runMachine(processor, clone(itemInput), new Scope(env.scope), `${qualified}/`));
    }
    return results;
  }

  async run() {
    const definition = this.definition;
    if (!isObject(definition)) throw invalid("the definition must be a JSON object");
    const language = definition.QueryLanguage ?? "JSONPath";
    checkMachine(definition, "definition", language, MACHINE_FIELDS);
    if (definition.TimeoutSeconds !== undefined) {
      if (!(isNonNegativeInteger(definition.TimeoutSeconds) && definition.TimeoutSeconds > 0)) {
        throw invalid("definition.TimeoutSeconds must be a positive integer");
      }
      this.timeoutSeconds = definition.TimeoutSeconds;
    }
    return this.runMachine(definition, clone(this.input), this.root, "");
  }
}

function checkResponse(response, where) {
  if (!isObject(response)) throw new Abort("ERROR", "InvalidScript", `${where} must be an object`);
  const kinds = ["result", "error", "hang"].filter((k) => Object.hasOwn(response, k));
  if (kinds.length !== 1) {
    throw new Abort("ERROR", "InvalidScript", `${where} must have exactly one of "result", "error" and "hang": ${JSON.stringify(response)}`);
  }
  const allowed = { result: ["result", "seconds"], error: ["error", "cause", "seconds"], hang: ["hang"] }[kinds[0]];
  for (const key of Object.keys(response)) {
    if (!allowed.includes(key)) throw new Abort("ERROR", "InvalidScript", `${where}: unexpected key '${key}'`);
  }
  if (kinds[0] === "hang" && response.hang !== true) throw new Abort("ERROR", "InvalidScript", `${where}: "hang" must be true`);
  if (kinds[0] === "error" && typeof response.error !== "string") throw new Abort("ERROR", "InvalidScript", `${where}: "error" must be a string`);
  if (response.cause !== undefined && typeof response.cause !== "string") throw new Abort("ERROR", "InvalidScript", `${where}: "cause" must be a string`);
  if (response.seconds !== undefined && !(typeof response.seconds === "number" && response.seconds >= 0)) {
    throw new Abort("ERROR", "InvalidScript", `${where}: "seconds" must be a non-negative number`);
  }
}

function errorMatches(errorEquals, error) {
  const name = error ?? "";
  return errorEquals.some((pattern) => {
    if (pattern === "States.ALL") return !UNCATCHABLE_BY_ALL.has(name);
    if (pattern === name) return true;
    return pattern === "States.TaskFailed" && (!name.startsWith("States.") || TASK_FAILED_STATES_ERRORS.has(name));
  });
}

async function execute(scenario, index) {
  let execution = null;
  const trace = (status, error, cause, output) => ({
    status,
    error,
    cause,
    output: output === undefined ? null : output,
    states: execution ? execution.states : [],
    calls: execution ? execution.calls : [],
    variables: execution ? execution.root.vars : {},
    waited_seconds: execution ? execution.waitedMs / 1000 : 0,
    elapsed_seconds: execution ? execution.clockMs / 1000 : 0,
    timeout_seconds: execution ? execution.timeoutSeconds : null,
    unconsumed_responses: execution
      ? Object.fromEntries([...execution.responses].filter(([, q]) => q.used < q.list.length).map(([k, q]) => [k, q.list.length - q.used]))
      : {},
  });
  try {
    execution = new Execution(scenario, index);
    const output = await execution.run();
    return trace("SUCCEEDED", null, null, output);
  } catch (err) {
    if (err instanceof Failure) return trace("FAILED", err.error, err.cause, null);
    if (err instanceof Abort) return trace(err.status, err.error, err.cause, null);
    return trace("ERROR", "InterpreterError", err && err.stack ? err.stack : String(err), null);
  }
}

async function main() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const request = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  const traces = [];
  for (let i = 0; i < request.scenarios.length; i += 1) traces.push(await execute(request.scenarios[i], i));
  process.stdout.write(JSON.stringify({ traces }));
}

await main();
