"""The platform's stacks; each composes constructs from ``cdk_constructs``."""
