"""Amazon SNS mobile push: one platform application per configured platform, created by a
custom resource (CloudFormation has no resource type for them) from credentials a deployer
keeps in Secrets Manager; their ARNs go to every function as ``PUSH_APP_ARN_<PLATFORM>``.

Configure with context ``pushCredentials`` (``apns=<secret name or ARN>,fcm=<...>``, any of
the platforms below); a platform left out has no application: its devices register and
their pushes are skipped (counted as ``PushNoChannel``). The API's role may only create,
read, repair and delete endpoints of these applications; the workers' role may only publish
to them. Rotating a credential: update the secret, deploy with ``-c pushRevision=<n>``.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import CustomResource, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from fieldsales_infra.settings import LAMBDA_ARCHITECTURE, LAMBDA_RUNTIME, StageSettings

# platform (the API's name) -> SNS platform type; the same table as
# chalicelib/services/push/platforms.py (tests/infra/test_drift.py compares them)
PUSH_PLATFORMS = {"apns": "APNS", "apns_sandbox": "APNS_SANDBOX", "fcm": "GCM", "baidu": "BAIDU"}
ENV_PREFIX = "PUSH_APP_ARN_"
REGISTER_ACTIONS = ["sns:GetEndpointAttributes", "sns:SetEndpointAttributes", "sns:DeleteEndpoint"]
HANDLER_DIR = Path(__file__).resolve().parent / "push_apps"


def application_name(stage: str, platform: str) -> str:
    return f"fieldsales-{stage}-{platform.replace('_', '-')}"


def _application(stage: str, platform: str) -> str:
    """``<SNS platform>/<name>``: how application and endpoint ARNs name an application."""
    return f"{PUSH_PLATFORMS[platform]}/{application_name(stage, platform)}"


class PushApplications(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, settings: StageSettings) -> None:
        super().__init__(scope, construct_id)
        self.stage = settings.stage
        self.applications: dict[str, CustomResource] = {}
        unknown = {p for p, _ in settings.push_credentials} - set(PUSH_PLATFORMS)
        if unknown:
            raise ValueError(
                f"pushCredentials names unknown platforms {sorted(unknown)}; known: {sorted(PUSH_PLATFORMS)}"
            )
        if not settings.push_credentials:
            self.function = None
            return
        refs = dict(settings.push_credentials)
        secrets = {p: self._secret(p, ref) for p, ref in refs.items()}
        self.function = self._handler(settings, list(secrets.values()))
        for platform in secrets:
            self.applications[platform] = CustomResource(
                self,
                f"{platform.title().replace('_', '')}Application",
                service_token=self.function.function_arn,
                resource_type="Custom::SnsPlatformApplication",
                properties={
                    "Name": application_name(settings.stage, platform),
                    "Platform": PUSH_PLATFORMS[platform],
                    "SecretId": refs[platform],  # a name or a complete ARN, as GetSecretValue takes them
                    "Revision": settings.push_revision,
                },
            )

    def _secret(self, platform: str, ref: str) -> secretsmanager.ISecret:
        construct_id = f"{platform.title().replace('_', '')}Credentials"
        if ref.startswith("arn:"):
            return secretsmanager.Secret.from_secret_complete_arn(self, construct_id, ref)
        return secretsmanager.Secret.from_secret_name_v2(self, construct_id, ref)

    def _handler(self, settings: StageSettings, secrets: list[secretsmanager.ISecret]) -> lambda_.Function:
        stack = Stack.of(self)
        group = logs.LogGroup(self, "HandlerLogs")
        cfn_group: logs.CfnLogGroup = group.node.default_child  # type: ignore[assignment]
        cfn_group.retention_in_days = settings.log_retention_days
        role = iam.Role(
            self,
            "HandlerRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Fieldsales: creates the SNS platform applications from their credentials",
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteLogs", actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[group.log_group_arn]
            )
        )
        for secret in secrets:
            secret.grant_read(role)
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ManagePlatformApplications",
                actions=[
                    "sns:CreatePlatformApplication",
                    "sns:SetPlatformApplicationAttributes",
                    "sns:DeletePlatformApplication",
                ],
                resources=[
                    stack.format_arn(
                        service="sns", resource=f"app/{PUSH_PLATFORMS[p]}/{application_name(self.stage, p)}"
                    )
                    for p, _ in settings.push_credentials
                ],
            )
        )
        return lambda_.Function(
            self,
            "Handler",
            runtime=lambda_.Runtime(LAMBDA_RUNTIME, lambda_.RuntimeFamily.PYTHON),
            architecture=lambda_.Architecture.ARM_64 if LAMBDA_ARCHITECTURE == "arm64" else lambda_.Architecture.X86_64,
            handler="index.handler",
            code=lambda_.Code.from_asset(str(HANDLER_DIR)),
            timeout=Duration.seconds(60),
            memory_size=256,
            role=role,
            log_group=group,
            description="SNS platform applications from Secrets Manager credentials (custom resource)",
        )

    # ------------------------------------------------------------ what the app gets
    @property
    def environment(self) -> dict[str, str]:
        return {f"{ENV_PREFIX}{p.upper()}": app.get_att_string("Arn") for p, app in self.applications.items()}

    def _endpoints(self) -> list[str]:
        stack = Stack.of(self)
        return [
            stack.format_arn(
                service="sns", resource=f"endpoint/{PUSH_PLATFORMS[p]}/{application_name(self.stage, p)}/*"
            )
            for p in self.applications
        ]

    def grant_register(self, role: iam.IRole) -> None:
        """Device registration (the API): endpoints of these applications only."""
        if not self.applications:
            return
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="CreatePushEndpoints",
                actions=["sns:CreatePlatformEndpoint"],
                resources=[app.get_att_string("Arn") for app in self.applications.values()],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(sid="KeepPushEndpoints", actions=REGISTER_ACTIONS, resources=self._endpoints())
        )

    def grant_publish(self, role: iam.IRole) -> None:
        """The fan-out (the stream consumer): publish to these applications' endpoints only."""
        if self.applications:
            role.add_to_principal_policy(
                iam.PolicyStatement(sid="PublishPushes", actions=["sns:Publish"], resources=self._endpoints())
            )
