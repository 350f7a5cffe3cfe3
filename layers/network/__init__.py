"""The network layer: the VPC, its endpoints, and the security groups the spec's paths open."""
