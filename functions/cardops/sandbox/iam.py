"""One IAM role per function in moto, with the policies of the synthesized CDK template.

The sandbox and the integration tests run every handler in one process; each runs with the
credentials of its own role (``aws.acting_as``), and moto enforces the role's policies, so a call
the deployed function could not make fails here too. The policies come from the template itself
(synthesized once, then cached in ``.cardops/`` keyed by a hash of what it is built from), with
every ``Ref``/``Fn::GetAtt``/``Fn::Join``/``Fn::Sub`` resolved to the resources provisioned in moto
through the stack's outputs, which the sandbox shares by contract. What cannot be resolved fails.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from cardops import resources
from cardops.kernel.aws import Credentials

ROOT = Path(__file__).resolve().parents[3]
#: what the template's policies are built from (any change re-synthesizes)
TEMPLATE_INPUTS = ("infra", "cdk.json", "functions/cardops/resources.py")
CACHE_DIR = ROOT / ".cardops" / "iam"
TRUST_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)
#: pseudo parameters (region and account come from the moto session)
PSEUDO = {"AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}
#: resource type → its ``Arn`` attribute, from its ``Ref`` value (what the stack outputs give)
ARN_FORMATS = {
    "AWS::DynamoDB::Table": "arn:aws:dynamodb:{region}:{account}:table/{value}",
    "AWS::SQS::Queue": "arn:aws:sqs:{region}:{account}:{name}",
    "AWS::S3::Bucket": "arn:aws:s3:::{value}",
    "AWS::Lambda::Function": "arn:aws:lambda:{region}:{account}:function:{value}",
    "AWS::SecretsManager::Secret": "{value}",
    "AWS::StepFunctions::StateMachine": "{value}",
    "AWS::SNS::Topic": "{value}",
}


class UnresolvedPolicy(RuntimeError):
    """The template names something the sandbox does not provision: the roles would be wrong."""


@dataclass(frozen=True)
class FunctionPolicies:
    role: str
    #: policy name → document, intrinsic functions unresolved
    documents: dict[str, Any]
    managed: list[Any]


def inputs_digest() -> str:
    digest = hashlib.sha256()
    for name in TEMPLATE_INPUTS:
        path = ROOT / name
        files = (
            sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
            if path.is_dir()
            else [path]
        )
        for file in files:
            digest.update(str(file.relative_to(ROOT)).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:20]


def synthesize() -> dict[str, Any]:
    """The stack's template, synthesized offline (20-60 s: callers cache the extraction)."""
    from infra.app import build_app

    with tempfile.TemporaryDirectory(prefix="cardops-synth-") as outdir:
        assembly = build_app(stage="dev", outdir=outdir).synth()
        template: dict[str, Any] = assembly.stacks[0].template
    return template


def extract(template: Mapping[str, Any]) -> dict[str, Any]:
    """Per function key: its role's policies; per logical id: type and the output naming it."""
    found = template["Resources"]
    by_handler = {spec.handler: key for key, spec in resources.FUNCTIONS.items()}
    functions: dict[str, Any] = {}
    for body in found.values():
        if body["Type"] != "AWS::Lambda::Function":
            continue
        key = by_handler.get(body["Properties"].get("Handler"))
        if key is None:
            continue
        role = body["Properties"]["Role"]["Fn::GetAtt"][0]
        role_props = found[role]["Properties"]
        documents = {p["PolicyName"]: p["PolicyDocument"] for p in role_props.get("Policies", [])}
        for logical_id, policy in found.items():
            if policy["Type"] == "AWS::IAM::Policy" and {"Ref": role} in policy["Properties"].get(
                "Roles", []
            ):
                documents[logical_id] = policy["Properties"]["PolicyDocument"]
        functions[key] = {
            "role": role,
            "documents": documents,
            "managed": role_props.get("ManagedPolicyArns", []),
        }
    missing = set(resources.FUNCTIONS) - set(functions)
    if missing:
        raise UnresolvedPolicy(f"functions not in the template (by handler): {sorted(missing)}")
    outputs: dict[str, str] = {}
    #: logical id → attribute → the output whose value is ``Fn::GetAtt`` of it (``TableStreamArn``)
    attributes: dict[str, dict[str, str]] = {}
    for key, out in template.get("Outputs", {}).items():
        value = out.get("Value")
        if isinstance(value, dict) and set(value) == {"Ref"}:
            outputs[value["Ref"]] = key
        elif isinstance(value, dict) and set(value) == {"Fn::GetAtt"}:
            logical_id, attribute = value["Fn::GetAtt"]
            attributes.setdefault(logical_id, {})[attribute] = key
    return {
        "functions": functions,
        "resources": {
            lid: {"type": body["Type"], "output": outputs.get(lid), "attributes": attributes.get(lid, {})}
            for lid, body in found.items()
        },
    }


@cache
def template_policies() -> dict[str, Any]:
    """``extract`` of the current template, from the cache when its inputs have not changed."""
    path = CACHE_DIR / f"policies-{inputs_digest()}.json"
    if path.exists():
        cached: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return cached
    extracted = extract(synthesize())
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as handle:
        json.dump(extracted, handle, indent=1, sort_keys=True)
    Path(handle.name).replace(path)  # atomic: parallel test workers may write it at once
    return extracted


class Resolver:
    """CloudFormation intrinsics → the provisioned values, through the outputs both stacks share."""

    def __init__(
        self, extracted: Mapping[str, Any], outputs: Mapping[str, str], region: str, account: str
    ) -> None:
        self._resources: Mapping[str, Any] = extracted["resources"]
        self._outputs = outputs
        self._region = region
        self._account = account

    def attribute(self, logical_id: str, attribute: str) -> str:
        info = self._resources.get(logical_id)
        if info is None:
            raise UnresolvedPolicy(f"{logical_id} is not a resource of the template")
        kind, output = info["type"], info["output"]
        by_output = info.get("attributes", {}).get(attribute)
        if by_output is not None and by_output in self._outputs:
            return self._outputs[by_output]  # an attribute the stack outputs itself (a stream ARN)
        if kind == "AWS::Logs::LogGroup" and attribute == "Arn":
            # not provisioned in moto and never called by a handler (Lambda writes the logs itself)
            return f"arn:aws:logs:{self._region}:{self._account}:log-group:/cardops/sandbox/{logical_id}:*"
        if output is None or output not in self._outputs:
            raise UnresolvedPolicy(
                f"a policy names {logical_id} ({kind}), which has no stack output the sandbox provisions: "
                "add the resource to cardops.sandbox.provision and its output to Provisioned.outputs()"
            )
        value = self._outputs[output]
        if attribute == "Ref":
            return value
        if attribute == "Arn" and kind in ARN_FORMATS:
            name = value.rstrip("/").rsplit("/", 1)[-1]  # a queue's Ref is its URL; its ARN has its name
            return ARN_FORMATS[kind].format(
                region=self._region, account=self._account, value=value, name=name
            )
        if attribute == "Name" and kind == "AWS::StepFunctions::StateMachine":
            return value.rsplit(":", 1)[1]
        raise UnresolvedPolicy(f"cannot resolve {logical_id}.{attribute} ({kind})")

    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self.resolve(item) for item in node]
        if not isinstance(node, dict):
            return node
        if len(node) != 1 or not next(iter(node)).startswith(("Ref", "Fn::")):
            return {key: self.resolve(value) for key, value in node.items()}
        ((function, argument),) = node.items()
        if function == "Ref":
            return self._ref(argument)
        if function == "Fn::GetAtt":
            logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
            return self.attribute(logical_id, attribute)
        if function == "Fn::Join":
            separator, parts = argument
            return separator.join(str(self.resolve(part)) for part in parts)
        if function == "Fn::Split":
            separator, value = argument
            return str(self.resolve(value)).split(separator)
        if function == "Fn::Select":
            index, values = argument
            return self.resolve(values)[int(index)]
        if function == "Fn::Sub":
            text, variables = (argument, {}) if isinstance(argument, str) else argument
            return self._sub(text, {k: str(self.resolve(v)) for k, v in variables.items()})
        raise UnresolvedPolicy(f"intrinsic {function} is not supported in the sandbox's roles")

    def _ref(self, name: str) -> str:
        if name in PSEUDO:
            return PSEUDO[name]
        if name == "AWS::Region":
            return self._region
        if name == "AWS::AccountId":
            return self._account
        return self.attribute(name, "Ref")

    def _sub(self, text: str, variables: Mapping[str, str]) -> str:
        out, rest = [], text
        while "${" in rest:
            before, _, after = rest.partition("${")
            name, _, rest = after.partition("}")
            out.append(before)
            if name in variables:
                out.append(variables[name])
            elif "." in name:
                out.append(self.attribute(*name.split(".", 1)))
            else:
                out.append(self._ref(name))
        out.append(rest)
        return "".join(out)


def function_documents(outputs: Mapping[str, str], region: str, account: str) -> dict[str, dict[str, Any]]:
    """Per function key: policy name → resolved document (and ``managed:N`` → managed policy ARN)."""
    extracted = template_policies()
    resolver = Resolver(extracted, outputs, region, account)
    documents: dict[str, dict[str, Any]] = {}
    for key, spec in extracted["functions"].items():
        documents[key] = {name: resolver.resolve(doc) for name, doc in spec["documents"].items()}
        for index, arn in enumerate(spec["managed"]):
            documents[key][f"managed:{index}"] = resolver.resolve(arn)
    return documents


def create_roles(
    session: Any, prefix: str, outputs: Mapping[str, str], region: str
) -> dict[str, Credentials]:
    """Create each function's role in moto and assume it: the credentials its handler runs with."""
    iam = session.client("iam", region_name=region)
    sts = session.client("sts", region_name=region)
    account = sts.get_caller_identity()["Account"]
    credentials: dict[str, Credentials] = {}
    for key, documents in function_documents(outputs, region, account).items():
        role_name = f"{prefix}-{key}"[:64]
        role_arn = iam.create_role(
            RoleName=role_name, AssumeRolePolicyDocument=TRUST_POLICY, MaxSessionDuration=43200
        )["Role"]["Arn"]
        for name, document in documents.items():
            if name.startswith("managed:"):
                iam.attach_role_policy(RoleName=role_name, PolicyArn=document)
            else:
                iam.put_role_policy(RoleName=role_name, PolicyName=name, PolicyDocument=json.dumps(document))
        keys = sts.assume_role(RoleArn=role_arn, RoleSessionName=key, DurationSeconds=43200)["Credentials"]
        credentials[key] = Credentials(keys["AccessKeyId"], keys["SecretAccessKey"], keys["SessionToken"])
    return credentials


def function_of(principal: str) -> str | None:
    """``arn:aws:sts::…:assumed-role/{prefix}-{key}/{key}`` → ``key`` (the session name)."""
    if ":assumed-role/" not in principal:
        return None
    return principal.rsplit("/", 1)[1]
