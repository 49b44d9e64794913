"""The CDK app: one stack per stage, synthesized offline with no Docker and no AWS credentials."""
