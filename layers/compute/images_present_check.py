"""A deploy-time check that every service's image is in ECR before ECS tries to run it."""

from __future__ import annotations

from aws_cdk import CustomResource
from aws_cdk import aws_ecr as ecr
from constructs import Construct

from layers.shared.deploy_hook import DeployHook
from layers.shared.log_groups import Logging


class ImagesPresentCheck(Construct):
    """A custom resource that fails the deploy at once, naming each missing
    ``repository:tag``, when an image the services need has not been pushed.
    Services that depend on it are not created or updated until it passes."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        images: list[tuple[ecr.IRepository, str]],
        logging: Logging,
    ) -> None:
        """``images``: each service's repository and released tag (the compute stack's image-tag
        parameters), which the hook may describe. ``logging``: the hook's log group."""
        super().__init__(scope, construct_id)
        hook = DeployHook(
            self,
            "Hook",
            handler="images_present.handler",
            description="Fails the deploy when a service image is missing from ECR",
            logging=logging,
        )
        self.function = hook.function
        """What CloudFormation invokes for the check: a release's update of the tags invokes it too."""
        for repository, _ in images:
            repository.grant(hook.role, "ecr:DescribeImages")
        self.resource = CustomResource(
            self,
            "Check",
            service_token=hook.function.function_arn,
            resource_type="Custom::ImagesPresent",
            properties={"Images": [{"Repository": r.repository_name, "Tag": tag} for r, tag in images]},
        )
