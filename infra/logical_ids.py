"""Stateful resources keep the logical ids they were deployed with when their construct moves.

A logical id comes from the construct path, so moving a queue or a bucket into another construct
would make CloudFormation create a new one and orphan (retained) or delete the old one with what it
holds. ``tests/infra/test_stateful_ids.py`` pins every stateful resource's id.
"""

from __future__ import annotations

import aws_cdk as cdk
from constructs import Construct


def keep_logical_id(construct: Construct, logical_id: str) -> None:
    resource = construct.node.default_child
    assert isinstance(resource, cdk.CfnResource), f"{construct.node.path} has no CloudFormation resource"
    resource.override_logical_id(logical_id)


def logical_id(construct: Construct) -> str:
    """The logical id of a construct's CloudFormation resource (cdk-nag findings name it)."""
    child = construct.node.default_child
    assert isinstance(child, cdk.CfnElement), f"{construct.node.path} has no CloudFormation resource"
    return cdk.Stack.of(construct).resolve(child.logical_id)  # type: ignore[no-any-return]
