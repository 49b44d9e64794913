"""Drop the ``DependsOn`` entries a resource's own ``Ref``/``GetAtt`` already imply (cfn-lint W3005).

CDK makes a function or state machine depend on its whole role construct: the role (redundant, the
``Role``/``RoleArn`` GetAtt already orders it) and the role's default policy (needed: the resource
must not run before its grants exist); its custom-resource providers do the same. Construct
dependencies become ``DependsOn`` only after aspects run, so the list is computed lazily, when the
template is rendered, from what CDK then holds, minus the targets the properties reference.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import jsii
from constructs import IConstruct


def referenced(value: Any) -> set[str]:
    """Logical ids a resolved CloudFormation value names through ``Ref`` or ``Fn::GetAtt``."""
    found: set[str] = set()
    if isinstance(value, dict):
        if isinstance(value.get("Ref"), str):
            found.add(value["Ref"])
        attribute = value.get("Fn::GetAtt")
        if isinstance(attribute, list) and attribute and isinstance(attribute[0], str):
            found.add(attribute[0])
        for item in value.values():
            found |= referenced(item)
    elif isinstance(value, list):
        for item in value:
            found |= referenced(item)
    return found


@jsii.implements(cdk.IStableListProducer)
class _NotReferenced:
    def __init__(self, resource: cdk.CfnResource) -> None:
        self._resource = resource

    def produce(self) -> list[str]:
        stack = cdk.Stack.of(self._resource)
        targets = [t for t in self._resource.obtain_dependencies() if isinstance(t, cdk.CfnResource)]
        if not targets:
            return []
        ids = [stack.resolve(stack.get_logical_id(target)) for target in targets]
        implied = referenced(stack.resolve(self._resource._cfn_properties))
        return [i for i in ids if i not in implied]


@jsii.implements(cdk.IAspect)
class DropRedundantDependsOn:
    def visit(self, node: IConstruct) -> None:
        if isinstance(node, cdk.CfnResource):
            node.add_override("DependsOn", cdk.Lazy.list(_NotReferenced(node), omit_empty=True))
