"""One stack per stage: ``fieldsales-dev`` / ``fieldsales-prod``."""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack, Tags
from constructs import Construct

from fieldsales_infra.app import FieldsalesApp
from fieldsales_infra.data import DataStore
from fieldsales_infra.identity import Identity
from fieldsales_infra.messaging import Messaging
from fieldsales_infra.monitoring import Monitoring
from fieldsales_infra.nag import acknowledge_justified_findings
from fieldsales_infra.settings import StageSettings


class FieldsalesStack(Stack):
    def __init__(self, scope: Construct, settings: StageSettings, **kwargs: object) -> None:
        # The construct id is the stage: chalice.cdk uses it as the Chalice stage name.
        super().__init__(
            scope,
            settings.stage,
            stack_name=settings.stack_name,
            description=f"Fieldsales mobile CRM backend ({settings.stage})",
            termination_protection=settings.is_prod,
            **kwargs,  # type: ignore[arg-type]
        )
        Tags.of(self).add("app", "fieldsales")
        Tags.of(self).add("stage", settings.stage)

        self.data = DataStore(self, "Data", settings=settings)
        self.identity = Identity(self, "Identity", settings=settings)
        self.messaging = Messaging(self, "Messaging")
        self.app = FieldsalesApp(
            self, "App", settings=settings, data=self.data, identity=self.identity, messaging=self.messaging
        )
        self.monitoring = Monitoring(
            self, "Monitoring", settings=settings, app=self.app, data=self.data, messaging=self.messaging
        )

        outputs = {
            "ApiUrl": self.app.api_url,
            "UserPoolId": self.identity.user_pool.user_pool_id,
            "UserPoolClientId": self.identity.client.user_pool_client_id,
            "BucketName": self.data.bucket.bucket_name,
            "TableName": self.data.table.table_name,
            "WebhookQueueUrl": self.messaging.webhooks.queue_url,
            "AlarmTopicArn": self.monitoring.topic.topic_arn,
        }
        for name, value in outputs.items():
            CfnOutput(self, name, value=value)
        acknowledge_justified_findings(self.app, self.identity, self.messaging)
