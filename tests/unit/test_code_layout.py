"""Where code lives, held as tests so the layout stays as docs/architecture.md describes it:
constructs only in cdk_constructs/, small files where the platform is composed, one module
for the names the stacks share, and no test module importing another."""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from constructs import Construct

from platform_spec import names
from tests.platform_synth import ROOT

# The application's own code: what synthesizes, verifies, releases and checks the platform.
APPLICATION = (
    "app.py",
    "platform_spec",
    "stacks",
    "cdk_constructs",
    "cdk_helpers",
    "compliance",
    "release",
    "verify",
    "tools",
)
NAMING_MODULE = ROOT / "platform_spec" / "names.py"
MAX_LINES = 300
SMALL_FOLDERS = ("cdk_constructs", "stacks", "platform_spec", "release")


def _python_files(*places: str) -> Iterator[Path]:
    for place in places:
        path = ROOT / place
        yield from sorted(path.rglob("*.py")) if path.is_dir() else [path]


def _strings(path: Path) -> Iterator[tuple[int, str]]:
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.lineno, node.value


def _relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@pytest.mark.parametrize("folder", SMALL_FOLDERS)
def test_no_file_where_the_platform_is_composed_is_over_300_lines(folder: str) -> None:
    long = {
        _relative(path): count
        for path in _python_files(folder)
        if (count := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}, f"split these by subject (at most {MAX_LINES} lines each)"


def test_every_module_in_cdk_constructs_defines_a_construct() -> None:
    without = []
    for path in _python_files("cdk_constructs"):
        if path.name == "__init__.py":
            continue
        module = importlib.import_module(f"cdk_constructs.{path.stem}")
        constructs = [
            value
            for value in vars(module).values()
            if inspect.isclass(value) and issubclass(value, Construct) and value.__module__ == module.__name__
        ]
        if not constructs:
            without.append(_relative(path))
    assert without == [], "not constructs: helpers go to cdk_helpers/, checks to compliance/"


# Where one of the layer words means something else, and what.
NOT_A_LAYER = {
    ("compliance/cloudformation_values.py", "network"): "a load balancer's Type (network load balancer)",
    ("compliance/resource_schemas.py", "data"): "a key of the CloudFormation schema files",
    ("compliance/access_ledger.py", ":role/log-delivery"): "the CloudWatch Logs delivery role's name",
    ("verify/checks.py", "data"): "a key of Prometheus's HTTP API answer",
}
# Outputs whose key is the service's name and one of these (names.output_key).
SERVICE_ATTRIBUTES = "|".join(re.escape(attribute) for attribute in (*names.SERVICE_OUTPUTS, "ImageTag"))
COMPOSED_KEY = re.compile(rf"^[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]+)*(?:{SERVICE_ATTRIBUTES})$")
# The keys that are not also CloudFormation's own words (ClusterName, LogGroup, ... are).
STACK_OUTPUTS = {
    names.STATE_MACHINE_ARN,
    names.PROBE_TASK_DEFINITION,
    names.PROBE_SUBNETS,
    names.PROBE_SECURITY_GROUP,
    names.PROBE_LOG_GROUP,
    names.PUBLIC_URL,
    names.CLOUD_MAP_SERVICE_ID,
    names.RELEASED_IMAGE_TAG,
}


def _spelled(path: Path, relative: str) -> list[str]:
    """Layers and output keys spelled by hand in the module at ``path``."""
    spelled = []
    for line, text in _strings(path):
        layer = text in names.LAYERS or any(text.endswith(f"-{layer}") for layer in names.LAYERS)
        if layer and (relative, text) not in NOT_A_LAYER:
            spelled.append(f"{relative}:{line}: layer {text!r}")
        if text in STACK_OUTPUTS or COMPOSED_KEY.match(text) or text == names.TARGETS_PROBE:
            spelled.append(f"{relative}:{line}: output key {text!r}")
    return spelled


def test_only_the_naming_module_spells_a_stack_name_or_an_output_key() -> None:
    spelled = [
        finding
        for path in _python_files(*APPLICATION)
        if path != NAMING_MODULE
        for finding in _spelled(path, _relative(path))
    ]
    assert spelled == [], "use platform_spec.names (stack_name, output_key and the layer and key constants)"


def test_the_naming_check_finds_what_it_looks_for(tmp_path: Path) -> None:
    """The check above, on a module that spells a stack name and two output keys by hand."""
    module = tmp_path / "module.py"
    module.write_text(
        'STACK = f"{prefix}-compute"\nKEY = "BackendServiceArn"\nURL = "PublicUrl"\n'
        'FINE = "ServiceName"\nTYPE = "AWS::Logs::LogGroup"\n'
    )
    assert sorted(_spelled(module, "module.py")) == [
        "module.py:1: layer '-compute'",
        "module.py:2: output key 'BackendServiceArn'",
        "module.py:3: output key 'PublicUrl'",
    ]


TEST_KINDS = ("unit", "synth", "linters", "integration")


def _imported(node: ast.AST) -> list[str]:
    """The dotted names an import statement brings in (``from a import b`` -> ``a``, ``a.b``)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.module:
        return [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
    return []


def test_no_test_module_imports_another() -> None:
    """Shared test code lives in the tests/*.py helpers, so what a test depends on is a helper
    anyone can find, never another test file."""
    imports = [
        f"{_relative(path)}: {name}"
        for path in _python_files("tests")
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path)))
        for name in _imported(node)
        if name.split(".")[:2] in [["tests", kind] for kind in TEST_KINDS]
    ]
    assert imports == []
