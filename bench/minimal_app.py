"""The yardstick for `make bench`: a minimal two-stack CDK app (a VPC, one Fargate service)."""

from __future__ import annotations

from aws_cdk import App, Environment, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs

app = App()
env = Environment(region="us-east-1")
network = Stack(app, "bench-network", env=env)
vpc = ec2.Vpc(network, "Vpc", max_azs=2, nat_gateways=1)
service_stack = Stack(app, "bench-service", env=env)
cluster = ecs.Cluster(service_stack, "Cluster", vpc=vpc)
task = ecs.FargateTaskDefinition(service_stack, "Task", cpu=256, memory_limit_mib=512)
task.add_container(
    "web",
    image=ecs.ContainerImage.from_registry("public.ecr.aws/nginx/nginx:1.27"),
    port_mappings=[ecs.PortMapping(container_port=80)],
)
ecs.FargateService(service_stack, "Service", cluster=cluster, task_definition=task)
app.synth()
