"""CloudFormation's intrinsic functions (Ref, Fn::GetAtt, Fn::Join, Fn::Sub, ..., Fn::ImportValue
and Fn::GetStackOutput across the stacks of a deployment), pseudo parameters, parameters'
defaults and conditions, evaluated over synthesized templates. A resource's own values (its Ref
and attributes) come from ``_fact``, which ``aws_model.cloudformation.deployment`` provides."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from typing import Any

from aws_model.cloudformation.values import HEX, NO_VALUE, Guard, TemplateError, as_text, token, uuid

_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_CONDITION_FUNCTIONS = frozenset({"Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or", "Condition"})


class Intrinsics:
    """The templates of a deployment, their intrinsics and conditions resolved."""

    account: str
    region: str
    partition: str
    _templates: dict[str, Mapping[str, Any]]
    _stack_regions: dict[str, str]
    _conditions: dict[tuple[str, str], bool]
    _busy: set[tuple[str, ...]]

    def region_of(self, stack: str) -> str:
        """Where ``stack`` is deployed."""
        return self._stack_regions.get(stack, self.region)

    def resolve(self, stack: str, value: Any) -> Any:
        """Replace every intrinsic in ``value`` with its deployed value; AWS::NoValue at the top gives None."""
        self._template(stack)
        resolved = self._resolve(stack, value)
        return None if resolved is NO_VALUE else resolved

    def output(self, stack: str, output_name: str) -> Any:
        outputs = self._template(stack).get("Outputs", {})
        if output_name not in outputs:
            raise TemplateError(f"stack {stack} has no output {output_name}")
        body = outputs[output_name]
        if "Condition" in body and not self._condition(stack, body["Condition"]):
            raise TemplateError(f"output {output_name} of stack {stack} is not created: its condition is false")
        return self.resolve(stack, body.get("Value"))

    def _fact(self, stack: str, logical_id: str, attribute: str) -> Any:
        """A resource's Ref or attribute, as deployed (``Deployment`` computes it)."""
        raise NotImplementedError

    def _template(self, stack: str) -> Mapping[str, Any]:
        if stack not in self._templates:
            raise TemplateError(f"stack {stack} is not in this deployment (stacks: {', '.join(self._templates)})")
        return self._templates[stack]

    def _resolve(self, stack: str, value: Any) -> Any:
        if isinstance(value, Mapping):
            if len(value) == 1:
                (key, argument), *_ = value.items()
                if key == "Ref" or key.startswith("Fn::"):
                    return self._intrinsic(stack, key, argument)
            resolved = {k: self._resolve(stack, v) for k, v in value.items()}
            return {k: v for k, v in resolved.items() if v is not NO_VALUE}
        if isinstance(value, list):
            items = [self._resolve(stack, v) for v in value]
            return [v for v in items if v is not NO_VALUE]
        return value

    def _intrinsic(self, stack: str, name: str, argument: Any) -> Any:
        handlers: dict[str, Callable[[str, Any], Any]] = {
            "Ref": self._fn_ref,
            "Fn::GetAtt": self._fn_get_att,
            "Fn::Join": self._fn_join,
            "Fn::Sub": self._fn_sub,
            "Fn::Select": self._fn_select,
            "Fn::Split": self._fn_split,
            "Fn::Base64": self._fn_base64,
            "Fn::GetAZs": self._fn_get_azs,
            "Fn::FindInMap": self._fn_find_in_map,
            "Fn::If": self._fn_if,
            "Fn::ImportValue": self._fn_import_value,
            "Fn::GetStackOutput": self._fn_get_stack_output,
        }
        if name in _CONDITION_FUNCTIONS:
            raise TemplateError(f"stack {stack}: condition function {name} used outside Conditions and Fn::If")
        if name not in handlers:
            raise TemplateError(f"stack {stack}: intrinsic function {name} is not supported")
        return handlers[name](stack, argument)

    def _fn_ref(self, stack: str, name: Any) -> Any:
        if not isinstance(name, str):
            raise TemplateError(f"stack {stack}: Ref takes a name, got {name!r}")
        pseudo = self._pseudo(stack, name)
        if pseudo is not None:
            return pseudo
        template = self._template(stack)
        if name in template.get("Parameters", {}):
            return self._parameter(stack, name, template["Parameters"][name])
        if name in template.get("Resources", {}):
            return self._fact(stack, name, "Ref")
        raise TemplateError(f"stack {stack}: Ref to unknown name {name}")

    def _pseudo(self, stack: str, name: str) -> Any:
        stack_uuid = token(f"{stack}/stack-id", 32, HEX)
        values: dict[str, Any] = {
            "AWS::AccountId": self.account,
            "AWS::Region": self.region_of(stack),
            "AWS::Partition": self.partition,
            "AWS::URLSuffix": "amazonaws.com.cn" if self.partition == "aws-cn" else "amazonaws.com",
            "AWS::StackName": stack,
            "AWS::StackId": f"arn:{self.partition}:cloudformation:{self.region_of(stack)}:{self.account}:stack/{stack}/"
            + uuid(stack_uuid),
            "AWS::NoValue": NO_VALUE,
            "AWS::NotificationARNs": [],
        }
        if name.startswith("AWS::") and name not in values:
            raise TemplateError(f"stack {stack}: pseudo parameter {name} is not supported")
        return values.get(name)

    def _parameter(self, stack: str, name: str, declaration: Mapping[str, Any]) -> Any:
        kind = str(declaration.get("Type", "String"))
        if "Default" not in declaration:
            raise TemplateError(f"stack {stack}: parameter {name} has no Default to deploy with")
        default = declaration["Default"]
        if kind.startswith("AWS::SSM::Parameter::Value<"):
            return f"resolved-ssm:{default}"
        if kind == "CommaDelimitedList" or kind.startswith("List<"):
            return [item.strip() for item in str(default).split(",")]
        return str(default)

    def _fn_get_att(self, stack: str, argument: Any) -> Any:
        if isinstance(argument, str) and "." in argument:
            logical_id, attribute = argument.split(".", 1)
        elif isinstance(argument, list) and len(argument) == 2 and isinstance(argument[0], str):
            logical_id, attribute = argument[0], self._resolve(stack, argument[1])
        else:
            raise TemplateError(f"stack {stack}: malformed Fn::GetAtt {argument!r}")
        if not isinstance(attribute, str):
            raise TemplateError(f"stack {stack}: Fn::GetAtt attribute resolved to {attribute!r}")
        return self._fact(stack, logical_id, attribute)

    def _fn_join(self, stack: str, argument: Any) -> str:
        if not (isinstance(argument, list) and len(argument) == 2 and isinstance(argument[0], str)):
            raise TemplateError(f"stack {stack}: malformed Fn::Join {argument!r}")
        items = self._resolve(stack, argument[1])
        if not isinstance(items, list):
            raise TemplateError(f"stack {stack}: Fn::Join list resolved to {items!r}")
        return argument[0].join(as_text(item, f"stack {stack} Fn::Join element") for item in items)

    def _fn_sub(self, stack: str, argument: Any) -> str:
        if isinstance(argument, str):
            text, variables = argument, {}
        elif isinstance(argument, list) and len(argument) == 2 and isinstance(argument[0], str):
            text, variables = argument[0], self._resolve(stack, argument[1])
            if not isinstance(variables, dict):
                raise TemplateError(f"stack {stack}: Fn::Sub variables resolved to {variables!r}")
        else:
            raise TemplateError(f"stack {stack}: malformed Fn::Sub {argument!r}")

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"  # ${!Literal} stays literal
            if name in variables:
                value = variables[name]
            elif "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                value = self._fact(stack, logical_id, attribute)
            else:
                value = self._fn_ref(stack, name)
            return as_text(value, f"stack {stack} Fn::Sub ${{{name}}}")

        return _SUB_VARIABLE.sub(substitute, text)

    def _fn_select(self, stack: str, argument: Any) -> Any:
        if not (isinstance(argument, list) and len(argument) == 2):
            raise TemplateError(f"stack {stack}: malformed Fn::Select {argument!r}")
        index, items = self._resolve(stack, argument[0]), self._resolve(stack, argument[1])
        if not isinstance(items, list):
            raise TemplateError(f"stack {stack}: Fn::Select list resolved to {items!r}")
        try:
            position = int(index)
        except (TypeError, ValueError):
            raise TemplateError(f"stack {stack}: Fn::Select index {index!r} is not a number") from None
        if not 0 <= position < len(items):
            raise TemplateError(f"stack {stack}: Fn::Select index {position} is outside a list of {len(items)}")
        return items[position]

    def _fn_split(self, stack: str, argument: Any) -> list[str]:
        if not (isinstance(argument, list) and len(argument) == 2 and isinstance(argument[0], str)):
            raise TemplateError(f"stack {stack}: malformed Fn::Split {argument!r}")
        source = as_text(self._resolve(stack, argument[1]), f"stack {stack} Fn::Split source")
        return source.split(argument[0])

    def _fn_base64(self, stack: str, argument: Any) -> str:
        text = as_text(self._resolve(stack, argument), f"stack {stack} Fn::Base64")
        return base64.b64encode(text.encode()).decode()

    def _fn_get_azs(self, stack: str, argument: Any) -> list[str]:
        region = as_text(self._resolve(stack, argument), f"stack {stack} Fn::GetAZs") or self.region_of(stack)
        return [f"{region}a", f"{region}b", f"{region}c"]

    def _fn_find_in_map(self, stack: str, argument: Any) -> Any:
        if not (isinstance(argument, list) and len(argument) in (3, 4)):
            raise TemplateError(f"stack {stack}: malformed Fn::FindInMap {argument!r}")
        names = [as_text(self._resolve(stack, a), f"stack {stack} Fn::FindInMap") for a in argument[:3]]
        mapping = self._template(stack).get("Mappings", {}).get(names[0], {})
        found = mapping.get(names[1], {}).get(names[2], NO_VALUE)
        if found is not NO_VALUE:
            return self._resolve(stack, found)
        if len(argument) == 4 and isinstance(argument[3], Mapping) and "DefaultValue" in argument[3]:
            return self._resolve(stack, argument[3]["DefaultValue"])
        raise TemplateError(f"stack {stack}: Fn::FindInMap found no {names[0]}/{names[1]}/{names[2]}")

    def _fn_if(self, stack: str, argument: Any) -> Any:
        if not (isinstance(argument, list) and len(argument) == 3 and isinstance(argument[0], str)):
            raise TemplateError(f"stack {stack}: malformed Fn::If {argument!r}")
        return self._resolve(stack, argument[1] if self._condition(stack, argument[0]) else argument[2])

    def _fn_import_value(self, stack: str, argument: Any) -> Any:
        name = as_text(self._resolve(stack, argument), f"stack {stack} Fn::ImportValue")
        for other, template in self._templates.items():
            for output_name, body in template.get("Outputs", {}).items():
                export = body.get("Export")
                if isinstance(export, Mapping) and self.resolve(other, export.get("Name")) == name:
                    return self.output(other, output_name)
        raise TemplateError(f"stack {stack}: Fn::ImportValue {name} matches no export of this deployment")

    def _fn_get_stack_output(self, stack: str, argument: Any) -> Any:
        if not isinstance(argument, Mapping) or not {"StackName", "OutputName"} <= set(argument):
            raise TemplateError(f"stack {stack}: malformed Fn::GetStackOutput {argument!r}")
        arguments = self._resolve(stack, dict(argument))
        other, output_name = arguments["StackName"], arguments["OutputName"]
        if other not in self._templates:
            raise TemplateError(f"stack {stack}: Fn::GetStackOutput names stack {other}, not in this deployment")
        # Without Region it reads the consumer's own region (CloudFormation, "Fn::GetStackOutput").
        region = arguments.get("Region", self.region_of(stack))
        if region != self.region_of(other):
            raise TemplateError(
                f"stack {stack}: Fn::GetStackOutput looks for {other} in {region}, but it is in {self.region_of(other)}"
            )
        return self.output(other, output_name)

    # --- Conditions ---------------------------------------------------------------------------

    def _created(self, stack: str, logical_id: str) -> bool:
        condition = self._template(stack).get("Resources", {}).get(logical_id, {}).get("Condition")
        return condition is None or self._condition(stack, condition)

    def _condition(self, stack: str, name: str) -> bool:
        key = (stack, name)
        if key not in self._conditions:
            conditions = self._template(stack).get("Conditions", {})
            if name not in conditions:
                raise TemplateError(f"stack {stack}: unknown condition {name}")
            with Guard(self._busy, ("condition", stack, name)):
                self._conditions[key] = self._condition_value(stack, conditions[name], name)
        return self._conditions[key]

    def _condition_value(self, stack: str, expression: Any, where: str) -> bool:
        if not (isinstance(expression, Mapping) and len(expression) == 1):
            raise TemplateError(f"stack {stack}: condition {where} cannot be evaluated: {expression!r}")
        (function, argument), *_ = expression.items()
        if function == "Condition" and isinstance(argument, str):
            return self._condition(stack, argument)
        if function == "Fn::Equals" and isinstance(argument, list) and len(argument) == 2:
            left, right = (self._resolve(stack, a) for a in argument)
            return bool(_comparable(left) == _comparable(right))
        if function == "Fn::Not" and isinstance(argument, list) and len(argument) == 1:
            return not self._condition_value(stack, argument[0], where)
        if function in ("Fn::And", "Fn::Or") and isinstance(argument, list):
            values = [self._condition_value(stack, a, where) for a in argument]
            return all(values) if function == "Fn::And" else any(values)
        raise TemplateError(f"stack {stack}: condition {where} uses {function}, which cannot be evaluated")


def _comparable(value: Any) -> Any:
    return str(value).lower() if isinstance(value, bool) else str(value) if isinstance(value, int | float) else value
