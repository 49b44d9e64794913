"""The web console (issue 15): its function at ``/console``, and the Cognito pool its users sign in to.

The console authenticates in the function: it verifies the Cognito ID token held in its HttpOnly
session cookie on every request (an API Gateway Cognito authorizer reads a header, which a browser
following a link does not send). Its role holds only what its pages' use cases need: the table
(payments, refunds, ledger entries, outcome claims), the provider API keys (capture and refund at the
provider), the capture notifications and the refund alerts.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cognito as cognito
from constructs import Construct

from cardops.console.policy import Group
from cardops.console.signin import CHALLENGE_SECONDS
from infra.constructs.kernel import TABLE_DELETE, TABLE_READ, TABLE_WRITE, Kernel
from infra.constructs.monitoring import FIVE_MINUTES, alarm, function_widget
from infra.constructs.payments import Payments

#: the ID token's life: one working day, then the user signs in again
SESSION_HOURS = 8


class Console(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        kernel: Kernel,
        rest_api: apigw.RestApi,
        payments: Payments,
    ) -> None:
        super().__init__(scope, construct_id)
        self.user_pool = cognito.UserPool(
            self,
            "UserPool",
            user_pool_name=f"cardops-console-{stage}",
            self_sign_up_enabled=False,  # an operator creates each user and puts it in its group
            sign_in_aliases=cognito.SignInAliases(email=True),
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            password_policy=cognito.PasswordPolicy(
                min_length=12, require_digits=True, require_lowercase=True, require_uppercase=True,
                require_symbols=True, temp_password_validity=Duration.days(3),
            ),
            # threat protection: compromised credentials and risky sign-ins are blocked (the Plus plan)
            feature_plan=cognito.FeaturePlan.PLUS,
            standard_threat_protection_mode=cognito.StandardThreatProtectionMode.FULL_FUNCTION,
            # these users move money (captures, refunds, payouts, adjustments): an authenticator app
            # (TOTP) is required, set up at the first sign-in (console.signin); no SMS codes
            mfa=cognito.Mfa.REQUIRED,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            custom_attributes={
                # comma-separated store ids a store admin manages; the tenant of an admin or employee
                "store_ids": cognito.StringAttribute(min_len=0, max_len=2048, mutable=True),
                "tenant_id": cognito.StringAttribute(min_len=0, max_len=128, mutable=True),
                "employee_code": cognito.StringAttribute(min_len=0, max_len=64, mutable=True),
            },
            deletion_protection=stage == "prod",
            removal_policy=RemovalPolicy.RETAIN if stage == "prod" else RemovalPolicy.DESTROY,
        )  # fmt: skip
        # users read their scope, never write it: only an operator (the pool's admin API) sets it
        readable = cognito.ClientAttributes().with_standard_attributes(email=True, email_verified=True)
        self.client = self.user_pool.add_client(
            "ConsoleClient",
            auth_flows=cognito.AuthFlow(user_password=True),
            generate_secret=False,
            prevent_user_existence_errors=True,
            id_token_validity=Duration.hours(SESSION_HOURS),
            access_token_validity=Duration.hours(1),
            refresh_token_validity=Duration.hours(SESSION_HOURS),
            # a started sign-in (new password, code) expires with the console's own cookie for it
            auth_session_validity=Duration.seconds(CHALLENGE_SECONDS),
            read_attributes=readable.with_custom_attributes("store_ids", "tenant_id", "employee_code"),
            write_attributes=cognito.ClientAttributes(),
        )
        for group in Group:
            cognito.CfnUserPoolGroup(
                self,
                f"Group{''.join(p.capitalize() for p in group.value.split('_'))}",
                user_pool_id=self.user_pool.user_pool_id,
                group_name=group.value,
                description=f"cardops console: {group.value}",
            )
        self.function = fn = kernel.function(self, "console")
        self.functions = {"console": fn}
        fn.add_environment("CONSOLE_USER_POOL_ID", self.user_pool.user_pool_id)
        fn.add_environment("CONSOLE_CLIENT_ID", self.client.user_pool_client_id)
        # the store pages: capture (payments, claims, notices), refunds and payouts (ledger entries)
        kernel.table.grant(fn, *TABLE_READ, *TABLE_WRITE, *TABLE_DELETE)
        kernel.grant_api_keys(fn)
        payments.capture_deadline.grant_notifications(fn)
        payments.capture_deadline.grant_alerts(fn)
        payments.repayment.grant_decision(fn)  # the support desk's approve/reject
        integration = apigw.LambdaIntegration(fn)
        console_root = rest_api.root.add_resource("console")
        # the function authenticates every request (the session cookie's ID token)
        console_root.add_method("GET", integration, authorization_type=apigw.AuthorizationType.NONE)
        console_root.add_proxy(
            default_integration=integration,
            any_method=True,
            default_method_options=apigw.MethodOptions(authorization_type=apigw.AuthorizationType.NONE),
        )
        self.alarms = [
            alarm(
                self,
                "ConsoleFunctionErrors",
                "The console function raised an unhandled error (a crash answers 502); see its logs.",
                fn.metric_errors(period=FIVE_MINUTES, statistic="Sum"),
                threshold=1,
            )
        ]

    def widgets(self) -> list[list[cloudwatch.IWidget]]:
        return [[function_widget("console", self.function)]]
