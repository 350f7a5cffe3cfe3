"""Where code lives, held as tests so the layout stays as docs/architecture.md describes it:
each capability in the folder of the layer it serves, no module over 300 lines, one module for
the names the stacks share, and no test module importing another."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from platform_spec import names
from tests.platform_synth import ROOT

# The application's own code: what synthesizes, verifies, releases and checks the platform.
APPLICATION = ("app.py", "platform_spec", "stacks", "layers", "compliance", "aws_model", "verify", "tools")
NAMING_MODULE = ROOT / "platform_spec" / "names.py"
MAX_LINES = 300
# Each capability's folder, and the stacks it serves: a module of the folder is reached (imported,
# directly or through other modules of layers/) from one of them. What two or more stacks use is
# in layers/shared/. The edge's distribution is in the compute stack; its guards in the edge stack.
LAYER_STACKS = {
    "network": {"network_stack"},
    "data": {"data_stack"},
    "compute": {"compute_stack"},
    "edge": {"edge_stack", "compute_stack"},
    "observability": {"observability_stack"},
    "release": {"delivery_stack"},
    "ci": {"ci_stack"},
}
SHARED = "shared"
COMPOSITION = "platform"


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


def _module(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def test_no_module_of_the_application_is_over_300_lines() -> None:
    long = {
        _relative(path): count
        for path in _python_files(*APPLICATION)
        if (count := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}, f"split these by subject (at most {MAX_LINES} lines each)"


def _reached_from(module: str, graph: dict[str, set[str]], *, within: str = "") -> set[str]:
    """The modules named ``within...`` that ``module`` imports, directly or through such modules."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        for name in graph.get(todo.pop(), set()):
            if name.startswith(within) and name not in seen:
                seen.add(name)
                todo.append(name)
    return seen


def _import_graph(*places: str) -> dict[str, set[str]]:
    """Which of the modules under ``places`` each of them imports."""
    modules = {_module(path) for path in _python_files(*places)}
    return {
        _module(path): {
            name
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path)))
            for name in _imported(node)
            if name in modules
        }
        for path in _python_files(*places)
    }


def test_compliance_holds_only_what_every_synth_runs() -> None:
    """compliance/ is what the app imports (stacks/cdk_app.py, through stacks and layers); the offline
    model of AWS that tests, tools and the ledger use is aws_model/, which the app never imports."""
    seen = _reached_from("stacks.cdk_app", _import_graph("stacks", "layers", "compliance", "aws_model"))
    compliance = {_module(path) for path in _python_files("compliance") if path.name != "__init__.py"}
    assert sorted(compliance - seen) == [], "not run by synth: move it to aws_model/"
    assert sorted(name for name in seen if name.startswith("aws_model")) == [], "synth imports the offline model"


def test_each_capability_is_in_the_folder_of_the_layer_it_serves() -> None:
    """layers/<layer>/ holds what its stacks use; a module reached only from another layer's stacks
    belongs in that layer's folder, and one reached from two or more stacks in layers/shared/."""
    folders = {path.name for path in (ROOT / "layers").iterdir() if (path / "__init__.py").is_file()}
    assert folders == {*LAYER_STACKS, SHARED}, "a new layer: add it to LAYER_STACKS and docs/architecture.md"
    graph = _import_graph("stacks", "layers")
    stacks = {path.stem for path in _python_files("stacks") if path.stem.endswith("_stack")}
    reached = {stack: _reached_from(f"stacks.{stack}", graph, within="layers.") for stack in stacks}
    # What the app's composition uses (stacks/platform.py, across every stack) is shared by all.
    composing = _reached_from(f"stacks.{COMPOSITION}", graph, within="layers.")
    misplaced = []
    for path in _python_files("layers"):
        module = _module(path)
        if path.name == "__init__.py":
            continue
        layer = module.split(".")[1]
        users = sorted(stack for stack, modules in reached.items() if module in modules)
        if layer == SHARED:
            if len(users) < 2 and module not in composing:
                misplaced.append(f"{module}: shared, but used by {users or 'no stack'}")
        elif not set(users) & LAYER_STACKS[layer]:
            misplaced.append(f"{module}: in {layer}, used by {users or 'no stack'}")
    assert misplaced == []


# Where one of the layer words means something else, and what.
NOT_A_LAYER = {
    ("aws_model/cloudformation/attributes/networking.py", "network"): "a load balancer's Type (network load balancer)",
    ("compliance/resource_schemas.py", "data"): "a key of the CloudFormation schema files",
    ("aws_model/ledger/deliveries.py", ":role/log-delivery"): "the CloudWatch Logs delivery role's name",
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


def test_the_architecture_documents_each_layer_folder() -> None:
    """docs/architecture.md's "Where the code lives" names every folder of layers/ and no other."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    section = text[text.index("## Where the code lives") :]
    section = section[: section.index("\n## ", 1)]
    documented = set(re.findall(r"^  - `(\w+)/`", section, flags=re.MULTILINE))
    folders = {path.name for path in (ROOT / "layers").iterdir() if (path / "__init__.py").is_file()}
    assert documented == folders
