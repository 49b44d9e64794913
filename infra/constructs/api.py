"""API Gateway: signed webhooks open to providers, the admin API behind IAM (SigV4).

Webhooks have two doors to the same function: the REST API's ``/webhooks/{provider}`` (``ApiUrl``,
with every other route) and an HTTP API's (``WebhookApiUrl``, payload format 1.0, the REST proxy
event's shape), where providers are registered: an HTTP API request costs less than a third of a
REST one, and a webhook needs none of the REST API's extras (IAM authorization, validators).

The admin function is an outer shell serving every slice's routes: this construct owns it (its
role, logs and crash alarm), and each slice grants it what its own routes need (``grant_routes``).
"""

from __future__ import annotations

import json

import jsii
from aws_cdk import RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.constructs.kernel import Kernel
from infra.constructs.monitoring import FIVE_MINUTES, alarm, function_widget


class Api(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        kernel: Kernel,
        webhook: lambda_.IFunction,
    ) -> None:
        super().__init__(scope, construct_id)
        self.admin = admin = kernel.function(self, "admin")
        self.functions = {"admin": admin}
        access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            retention=logs.RetentionDays.THREE_MONTHS,
            removal_policy=RemovalPolicy.RETAIN if stage == "prod" else RemovalPolicy.DESTROY,
        )
        self.rest_api = apigw.RestApi(
            self,
            "RestApi",
            rest_api_name=f"cardops-{stage}",
            description="cardops webhooks and admin API",
            cloud_watch_role=True,
            deploy_options=apigw.StageOptions(
                stage_name=stage,
                tracing_enabled=True,
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,
                metrics_enabled=True,
                throttling_rate_limit=200,
                throttling_burst_limit=400,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=False, http_method=True, ip=True, protocol=True, request_time=True,
                    resource_path=True, response_length=True, status=True, user=False,
                ),
            ),
        )  # fmt: skip
        # the stack names its own ``ApiUrl`` output; the construct's generated one would be a second
        self.rest_api.node.try_remove_child("Endpoint")
        validator = self.rest_api.add_request_validator(
            "ParametersValidator", validate_request_parameters=True, validate_request_body=False
        )
        webhooks = self.rest_api.root.add_resource("webhooks").add_resource("{provider}")
        webhooks.add_method(
            "POST",
            apigw.LambdaIntegration(webhook),
            authorization_type=apigw.AuthorizationType.NONE,
            request_validator=validator,
            request_parameters={"method.request.path.provider": True},
        )
        self.webhook_api, self.webhook_stage = self._webhook_api(stage, webhook)
        admin_root = self.rest_api.root.add_resource("admin")
        admin_root.add_proxy(
            default_integration=apigw.LambdaIntegration(admin),
            any_method=True,
            default_method_options=apigw.MethodOptions(
                authorization_type=apigw.AuthorizationType.IAM, request_validator=validator
            ),
        )
        self.admin_resource = admin_root
        self.alarms = [
            alarm(
                self,
                "AdminFunctionErrors",
                "The admin function raised an unhandled error (a crash answers 502); see its logs.",
                admin.metric_errors(period=FIVE_MINUTES, statistic="Sum"),
                threshold=1,
            ),
            alarm(
                self,
                "ApiServerErrors",
                "API Gateway answered 5xx at least 5 times in 5 minutes (crashes, timeouts, store "
                "unavailable).",
                self.rest_api.deployment_stage.metric_server_error(period=FIVE_MINUTES, statistic="Sum"),
                threshold=5,
            ),
            alarm(
                self,
                "WebhookApiServerErrors",
                "The webhook HTTP API (WebhookApiUrl, where providers post) answered 5xx at least 5 "
                "times in 5 minutes (crashes, timeouts, store unavailable).",
                self.webhook_stage.metric_server_error(period=FIVE_MINUTES, statistic="Sum"),
                threshold=5,
            ),
        ]

    def _webhook_api(
        self, stage: str, webhook: lambda_.IFunction
    ) -> tuple[apigwv2.HttpApi, apigwv2.HttpStage]:
        """The providers' door: ``POST /webhooks/{provider}`` on an HTTP API's ``$default`` stage,
        throttled and access-logged as the REST stage is, the event in payload format 1.0."""
        api = apigwv2.HttpApi(
            self,
            "WebhookApi",
            api_name=f"cardops-{stage}-webhooks",
            description="cardops webhooks (payment providers)",
            create_default_stage=False,
        )
        access_logs = logs.LogGroup(
            self,
            "WebhookAccessLogs",
            retention=logs.RetentionDays.THREE_MONTHS,
            removal_policy=RemovalPolicy.RETAIN if stage == "prod" else RemovalPolicy.DESTROY,
        )
        http_stage = apigwv2.HttpStage(
            self,
            "WebhookStage",
            http_api=api,
            stage_name="$default",
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(rate_limit=200, burst_limit=400),
            access_log_settings=_AccessLogs(apigwv2.LogGroupLogDestination(access_logs)),
        )
        api.add_routes(
            path="/webhooks/{provider}",
            methods=[apigwv2.HttpMethod.POST],
            integration=integrations.HttpLambdaIntegration(
                "Webhook", webhook, payload_format_version=apigwv2.PayloadFormatVersion.VERSION_1_0
            ),
        )
        return api, http_stage

    def widgets(self) -> list[list[cloudwatch.IWidget]]:
        return [[function_widget("admin", self.admin)]]


@jsii.implements(apigwv2.IAccessLogSettings)
class _AccessLogs:
    """The HTTP API stage's access log: JSON fields like the REST stage's (no caller, no user)."""

    def __init__(self, destination: apigwv2.IAccessLogDestination) -> None:
        self._destination = destination

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigw.AccessLogFormat:
        # HTTP APIs know the route (routeKey), not a resource path
        fields = {
            "requestId": "$context.requestId",
            "ip": "$context.identity.sourceIp",
            "requestTime": "$context.requestTime",
            "httpMethod": "$context.httpMethod",
            "routeKey": "$context.routeKey",
            "status": "$context.status",
            "protocol": "$context.protocol",
            "responseLength": "$context.responseLength",
            "integrationError": "$context.integrationErrorMessage",
        }
        return apigw.AccessLogFormat.custom(json.dumps(fields))
