"""What the constructs share that is not itself a construct: typed bundles (placement,
logging), the Fargate settings every workload takes, rendered configuration files, and grants."""
