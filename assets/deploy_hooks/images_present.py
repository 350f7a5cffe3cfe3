"""CloudFormation custom resource: refuse to deploy services whose images are not in ECR.

Without it, an ECS service whose image is missing keeps launching tasks that
fail to pull until the deployment circuit breaker gives up, many minutes
later. This check fails the deploy within seconds, naming every missing image.
"""

from __future__ import annotations

from typing import Any

import boto3
from cfn_response import respond

FIRST_DEPLOY_HINT = "Push them first: docs/operations.md, 'First deploy into an empty account'."


def missing_images(images: list[dict[str, str]], ecr: Any) -> list[str]:
    """``repository:tag`` of each image that is not in its repository."""
    missing = []
    for image in images:
        repository, tag = image["Repository"], image["Tag"]
        try:
            ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])
        except (ecr.exceptions.ImageNotFoundException, ecr.exceptions.RepositoryNotFoundException):
            missing.append(f"{repository}:{tag}")
    return missing


def handler(event: dict[str, Any], context: Any, ecr: Any = None) -> None:
    if event["RequestType"] == "Delete":
        respond(event, "SUCCESS", "nothing to check on delete")
        return
    try:
        missing = missing_images(event["ResourceProperties"]["Images"], ecr or boto3.client("ecr"))
    except Exception as error:  # report every failure to CloudFormation instead of letting it wait
        respond(event, "FAILED", f"could not check the images: {error}")
        return
    if missing:
        respond(event, "FAILED", f"Images not in ECR: {', '.join(missing)}. {FIRST_DEPLOY_HINT}")
    else:
        respond(event, "SUCCESS", "every image is present")
