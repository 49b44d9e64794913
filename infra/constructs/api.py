"""API Gateway: signed webhooks open to providers, the admin API behind IAM (SigV4).

Webhooks have two doors to the same function: the REST API's ``/webhooks/{provider}`` (``ApiUrl``,
with every other route) and an HTTP API's (``WebhookApiUrl``, payload format 1.0, the REST proxy
event's shape), where providers are registered: an HTTP API request costs less than a third of a
REST one, and a webhook needs none of the REST API's extras (IAM authorization, validators).

The admin routes have two doors as well: the REST API's ``/admin/{proxy+}`` and an HTTP API's
``ANY /admin/{proxy+}`` (``AdminApiUrl``, where the platform calls; payload format 1.0), both IAM
(SigV4) authorized. The REST API's parameter validator checks nothing under ``/admin`` (the proxy
route declares no required parameter) and it has no models: every body is validated in the function
(Powertools' ``enable_validation``), so both doors refuse the same requests with the same answers.

The admin function is an outer shell serving every slice's routes: this construct owns it (its
role, logs and crash alarm), and each slice grants it what its own routes need (``grant_routes``).
"""

from __future__ import annotations

import json

import jsii
from aws_cdk import RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
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
        # the providers' door: open, the function checks their signatures
        self.webhook_api, self.webhook_stage = self._http_api(
            stage,
            "Webhook",
            "webhooks",
            "webhooks (payment providers)",
            ("/webhooks/{provider}", apigwv2.HttpMethod.POST),
            webhook,
        )
        admin_root = self.rest_api.root.add_resource("admin")
        admin_root.add_proxy(
            default_integration=apigw.LambdaIntegration(admin),
            any_method=True,
            default_method_options=apigw.MethodOptions(
                authorization_type=apigw.AuthorizationType.IAM, request_validator=validator
            ),
        )
        self.admin_resource = admin_root
        # the platform's door: the REST API's admin routes, IAM authorized (the 1.0 event carries
        # the caller in ``requestContext.identity.userArn``: the admin's actor)
        self.admin_api, self.admin_stage = self._http_api(
            stage,
            "Admin",
            "admin",
            "admin API (IAM, SigV4)",
            ("/admin/{proxy+}", apigwv2.HttpMethod.ANY),
            admin,
            authorizers.HttpIamAuthorizer(),
        )
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
            alarm(
                self,
                "AdminApiServerErrors",
                "The admin HTTP API (AdminApiUrl, where the platform calls) answered 5xx at least 5 "
                "times in 5 minutes (crashes, timeouts, store unavailable).",
                self.admin_stage.metric_server_error(period=FIVE_MINUTES, statistic="Sum"),
                threshold=5,
            ),
        ]

    def _http_api(
        self,
        stage: str,
        prefix: str,
        name: str,
        description: str,
        route: tuple[str, apigwv2.HttpMethod],
        function: lambda_.IFunction,
        authorizer: apigwv2.IHttpRouteAuthorizer | None = None,
    ) -> tuple[apigwv2.HttpApi, apigwv2.HttpStage]:
        """An HTTP API with one ``route`` to ``function`` (payload format 1.0, the REST proxy
        event's shape) on its ``$default`` stage, throttled and access-logged as the REST stage is."""
        api = apigwv2.HttpApi(
            self,
            f"{prefix}Api",
            api_name=f"cardops-{stage}-{name}",
            description=f"cardops {description}",
            create_default_stage=False,
        )
        access_logs = logs.LogGroup(
            self,
            f"{prefix}AccessLogs",
            retention=logs.RetentionDays.THREE_MONTHS,
            removal_policy=RemovalPolicy.RETAIN if stage == "prod" else RemovalPolicy.DESTROY,
        )
        http_stage = apigwv2.HttpStage(
            self,
            f"{prefix}Stage",
            http_api=api,
            stage_name="$default",
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(rate_limit=200, burst_limit=400),
            access_log_settings=_AccessLogs(apigwv2.LogGroupLogDestination(access_logs)),
        )
        path, method = route
        api.add_routes(
            path=path,
            methods=[method],
            integration=integrations.HttpLambdaIntegration(
                prefix, function, payload_format_version=apigwv2.PayloadFormatVersion.VERSION_1_0
            ),
            authorizer=authorizer,
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
