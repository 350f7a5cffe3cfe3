"""Building blocks more than one layer uses: logging, Fargate settings and the cluster, workload
containers, deploy hooks, rendered configuration."""
