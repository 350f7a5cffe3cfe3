"""A deploy hook that has the pull-through cache import every pinned image before a task pulls it."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Acknowledgment, CustomResource, Duration, Stack, Validations
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from constructs import Construct

from layers.shared.deploy_hook import DeployHook
from layers.shared.log_groups import Logging
from platform_spec import PlatformSpec
from platform_spec.checks import image_parts
from platform_spec.workloads import ImageMirrorSpec, cached_repository

# What fetching a manifest through a cache rule takes: the pull of the manifest (ecr:BatchGetImage)
# and, while it is not cached, its import and its repository's creation (Amazon ECR user guide,
# "IAM permissions required to sync an upstream registry with an Amazon ECR private registry":
# https://docs.aws.amazon.com/AmazonECR/latest/userguide/pull-through-cache-iam.html). No layer is
# downloaded, so no ecr:GetDownloadUrlForLayer; ECR copies the layers itself.
WARM_ACTIONS = ("ecr:BatchGetImage", "ecr:BatchImportUpstreamImage", "ecr:CreateRepository")
RESOURCE_TYPE = "Custom::MirrorWarmer"
# Below the custom resource's ServiceTimeout (compliance/custom_resource_timeouts.py: 300 s), so the
# handler always answers; the handler stops retrying 20 s before this.
HOOK_TIMEOUT_MINUTES = 4


def third_party_images(spec: PlatformSpec) -> tuple[str, ...]:
    """Every image the spec names that the platform does not build."""
    grafana = (spec.grafana.image,) if spec.grafana else ()
    return (spec.prometheus.image, spec.alertmanager.image, *grafana, *spec.helper_images.all)


def mirrored_images(*, images: Sequence[str], mirror: ImageMirrorSpec) -> tuple[str, ...]:
    """Of ``images`` (references pinned by digest), those of a registry ``mirror`` caches, once each."""
    return tuple(dict.fromkeys(i for i in images if mirror.registry(i) is not None))


class MirrorWarmer(Construct):
    """On create and whenever a pin changes, fetches each cached image's manifest by its tag
    through the cache (``assets/deploy_hooks/mirror_warmer.py``), so that the pull by digest that
    follows finds it: a pull-through cache reports an image it has not cached as missing when it
    is first pulled by digest (aws/containers-roadmap#2837). Fails the deploy, naming the image,
    when its tag no longer names its pin. It runs after ``rules``; the stacks whose tasks pull
    these images are deployed after its stack."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        images: Sequence[str],
        stack_prefix: str,
        mirror: ImageMirrorSpec,
        rules: Sequence[ecr.CfnPullThroughCacheRule],
        logging: Logging,
    ) -> None:
        """``images``: the spec's third-party references, pinned by digest; those of registries
        ``mirror`` does not cache are left out. ``stack_prefix``: the cache's repository prefix's
        first part. ``mirror``: the spec's pull-through cache: which registries it caches, under which
        prefix. ``rules``: the cache rules, created before the hook runs. ``logging``: the
        hook's log group."""
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        cached = mirrored_images(images=images, mirror=mirror)
        hook = DeployHook(
            self,
            "Hook",
            handler="mirror_warmer.handler",
            description="Has the pull-through cache import each pinned image by its tag, and checks the pins",
            logging=logging,
            timeout=Duration.minutes(HOOK_TIMEOUT_MINUTES),
        )
        pins = []
        for image in cached:
            registry = mirror.registry(image)
            assert registry is not None
            _, _, tag, digest = image_parts(image)
            repository = cached_repository(stack_prefix, registry, image)
            pins.append({"Image": image.split("@")[0], "Repository": repository, "Tag": tag, "Digest": digest})
        hook.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=list(WARM_ACTIONS),
                resources=[
                    stack.format_arn(service="ecr", resource="repository", resource_name=p["Repository"]) for p in pins
                ],
            )
        )
        hook.role.add_to_principal_policy(iam.PolicyStatement(actions=["ecr:GetAuthorizationToken"], resources=["*"]))
        Validations.of(hook.role).acknowledge(
            Acknowledgment(
                id="AwsSolutions::AwsSolutions-IAM5[Resource::*]",
                reason="ecr:GetAuthorizationToken has no resource-level permissions; every other action of "
                "this role names a cached repository or its log group.",
            )
        )
        self.resource = CustomResource(
            self,
            "Warm",
            service_token=hook.function.function_arn,
            resource_type=RESOURCE_TYPE,
            # Every pin is a property: changing one runs the hook again.
            properties={"Registry": f"{stack.account}.dkr.ecr.{stack.region}.{stack.url_suffix}", "Images": pins},
        )
        for rule in rules:
            self.resource.node.add_dependency(rule)
