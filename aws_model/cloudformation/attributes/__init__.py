"""What a deployed resource's Ref and attributes are, by resource type, one module per group of services."""
