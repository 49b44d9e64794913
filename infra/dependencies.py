"""Drop the ``DependsOn`` a role reference already implies (cfn-lint W3005), keep the rest.

CDK makes a function or state machine depend on its whole role construct: the role (redundant, the
``Role``/``RoleArn`` GetAtt already orders it) and the role's default policy (needed: the resource
must not run before its grants exist). The construct dependencies become ``DependsOn`` only after
aspects run, so the list is computed lazily, when the template is rendered, from what CDK then
holds, minus the role.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from constructs import IConstruct


@jsii.implements(cdk.IStableListProducer)
class _WithoutRole:
    def __init__(self, resource: cdk.CfnResource, role: iam.IRole) -> None:
        self._resource = resource
        self._role_path = role.node.default_child.node.path if role.node.default_child else ""

    def produce(self) -> list[str]:
        stack = cdk.Stack.of(self._resource)
        kept = [
            stack.get_logical_id(target)
            for target in self._resource.obtain_dependencies()
            if isinstance(target, cdk.CfnResource) and target.node.path != self._role_path
        ]
        return sorted(stack.resolve(kept))


@jsii.implements(cdk.IAspect)
class DropRedundantRoleDependencies:
    def visit(self, node: IConstruct) -> None:
        role: Any = None
        if isinstance(node, lambda_.Function | sfn.StateMachine):
            role = node.role
        if role is None or not isinstance(role, iam.Role):
            return
        resource = node.node.default_child
        assert isinstance(resource, cdk.CfnResource)
        resource.add_override("DependsOn", cdk.Lazy.list(_WithoutRole(resource, role), omit_empty=True))
