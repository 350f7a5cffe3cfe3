"""The platform's constructs: one capability per module.

Named ``cdk_constructs`` because a top-level ``constructs`` package would
shadow the ``constructs`` library every CDK app imports.
"""
