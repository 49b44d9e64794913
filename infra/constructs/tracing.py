"""X-Ray sampled on purpose (issue 13, cost): the stack's own sampling rules for the traced REST
stage and the state machines, the places a trace starts.

X-Ray bills each trace recorded (5 USD per million). Left to the account's default rule (1 request a
second, then 5%), the REST stage and the state machines share a 1/s reservoir that records most of
this traffic (a capture deadline's execution per payment: 0.39 a second at 1M payments a month).
These rules, one per traced resource and matched by the resource's own X-Ray service name so no
other stack's resource matches, record ``xray_sampling_rate`` of the requests (CDK context, default
0.05) after a reservoir of ``xray_reservoir_per_second`` (default 0: a reservoir of 1 would record
about 84% of the executions, 17 times the 5%; the cost model prices both,
``tests/benchmarks/cost_model.py``). The other functions are in PassThrough
(``kernel.ACTIVE_TRACING``): traced exactly when their upstream sampled.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_xray as xray
from constructs import Construct

#: CDK context keys and their defaults (README "Tracing")
RATE_CONTEXT = "xray_sampling_rate"
RESERVOIR_CONTEXT = "xray_reservoir_per_second"
DEFAULT_RATE = 0.05
DEFAULT_RESERVOIR = 0
#: evaluated before the account's default rule (10000) and any rule written later by hand (> 100)
PRIORITY = 100
#: X-Ray's limit on a rule's name
RULE_NAME_MAX = 32


def sampling(rate: object, reservoir: object) -> tuple[float, int]:
    """The rules' rate and reservoir from the CDK context (strings from ``-c``): only an unset key
    takes the default, so ``-c xray_sampling_rate=0`` records nothing rather than the default 5%."""
    fixed_rate = DEFAULT_RATE if rate in (None, "") else float(str(rate))
    per_second = DEFAULT_RESERVOIR if reservoir in (None, "") else int(str(reservoir))
    if not 0.0 <= fixed_rate <= 1.0 or per_second < 0:
        raise ValueError(
            f"{RATE_CONTEXT} must be within 0..1 and {RESERVOIR_CONTEXT} at least 0 "
            f"(got {fixed_rate}, {per_second})"
        )
    return fixed_rate, per_second


class Tracing(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        #: its stage is named ``stage`` (``constructs/api.py``)
        rest_api: apigw.RestApi,
        state_machines: Sequence[tuple[str, sfn.StateMachine]],
    ) -> None:
        super().__init__(scope, construct_id)
        rate, reservoir = sampling(
            self.node.try_get_context(RATE_CONTEXT), self.node.try_get_context(RESERVOIR_CONTEXT)
        )
        self.rules = [
            # API Gateway names a stage's service ``{api name}/{stage name}``
            self._rule(
                "ApiSampling",
                f"cardops-{stage}-api",
                service_name=f"{rest_api.rest_api_name}/{stage}",
                service_type="AWS::ApiGateway::Stage",
                rate=rate,
                reservoir=reservoir,
            )
        ]
        for name, state_machine in state_machines:
            self.rules.append(
                self._rule(
                    "".join(part.capitalize() for part in name.split("-")) + "Sampling",
                    f"cardops-{stage}-{name}",
                    service_name=state_machine.state_machine_name,
                    service_type="AWS::StepFunctions::StateMachine",
                    rate=rate,
                    reservoir=reservoir,
                )
            )

    def _rule(
        self,
        construct_id: str,
        rule_name: str,
        *,
        service_name: str,
        service_type: str,
        rate: float,
        reservoir: int,
    ) -> xray.CfnSamplingRule:
        if len(rule_name) > RULE_NAME_MAX:
            raise ValueError(f"X-Ray rule name {rule_name!r} is longer than {RULE_NAME_MAX} characters")
        return xray.CfnSamplingRule(
            self,
            construct_id,
            sampling_rule=xray.CfnSamplingRule.SamplingRuleProperty(
                rule_name=rule_name,
                priority=PRIORITY,
                fixed_rate=rate,
                reservoir_size=reservoir,
                service_name=service_name,
                service_type=service_type,
                host="*",
                http_method="*",
                url_path="*",
                resource_arn="*",
                version=1,
            ),
        )
