"""CloudWatch alarms (to an SNS topic) and the operations dashboard."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subs
from constructs import Construct

from fieldsales_infra.app import API_FUNCTION, API_STAGE, METRICS_NAMESPACE, METRICS_SERVICE, FieldsalesApp
from fieldsales_infra.data import DataStore
from fieldsales_infra.messaging import Messaging
from fieldsales_infra.push import PUSH_PLATFORMS, application_name
from fieldsales_infra.settings import StageSettings

BUDGET_ALERTS_FUNCTION = "BudgetAlerts"
STREAM_ITERATOR_AGE_MS = 60_000
API_5XX_PER_5_MIN = 5
WEBHOOK_OLDEST_MESSAGE_S = 3600
PUSH_FAILURE_RATE = 0.10  # of the pushes of 15 minutes,
PUSH_MIN_VOLUME = 20  # once there are this many (a handful of stale phones is not an incident)


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: StageSettings,
        app: FieldsalesApp,
        data: DataStore,
        messaging: Messaging,
    ) -> None:
        super().__init__(scope, construct_id)
        # CloudWatch publishes to an encrypted topic only with a customer key it may use.
        key = kms.Key(self, "AlarmTopicKey", enable_key_rotation=True, description="Fieldsales alarm topic")
        key.grant(iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*")
        self.topic = sns.Topic(self, "AlarmTopic", master_key=key, enforce_ssl=True)
        if settings.alarm_email:
            self.topic.add_subscription(subs.EmailSubscription(settings.alarm_email))
        self._action = cw_actions.SnsAction(self.topic)
        self.alarms: list[cw.Alarm] = []

        five_min = Duration.minutes(5)
        api_dims = {"ApiName": app.api_name, "Stage": API_STAGE}
        api_5xx = cw.Metric(
            namespace="AWS/ApiGateway",
            metric_name="5XXError",
            dimensions_map=api_dims,
            statistic="Sum",
            period=five_min,
        )
        self._alarm("Api5xx", api_5xx, API_5XX_PER_5_MIN, "API answered 5xx: a server fault, never a client's")

        fn_metrics: dict[str, dict[str, cw.Metric]] = {}
        for logical_id in app.functions:
            name = app.chalice.get_resource(logical_id).ref
            fn_metrics[logical_id] = {
                metric: cw.Metric(
                    namespace="AWS/Lambda",
                    metric_name=metric,
                    dimensions_map={"FunctionName": name},
                    statistic=stat,
                    period=five_min,
                    label=f"{logical_id} {metric}",
                )
                for metric, stat in (
                    ("Errors", "Sum"),
                    ("Throttles", "Sum"),
                    ("Invocations", "Sum"),
                    ("Duration", "p99"),
                )
            }
            self._alarm(f"{logical_id}Throttles", fn_metrics[logical_id]["Throttles"], 1, f"{logical_id} throttled")
            if logical_id == BUDGET_ALERTS_FUNCTION:
                continue
            threshold = 5 if logical_id == API_FUNCTION else 1
            self._alarm(f"{logical_id}Errors", fn_metrics[logical_id]["Errors"], threshold, f"{logical_id} failed")

        if BUDGET_ALERTS_FUNCTION in app.functions:
            # Hourly job: one failed run means budget owners may miss a threshold alert.
            self._alarm(
                "BudgetAlertFailures",
                fn_metrics[BUDGET_ALERTS_FUNCTION]["Errors"].with_(period=Duration.hours(1)),
                1,
                "budget_alerts failed: threshold alerts may be late or missing",
            )

        stream_functions = [fn for fn in app.functions.values() if fn.events_of("DynamoDB")]
        for fn in stream_functions:
            age = cw.Metric(
                namespace="AWS/Lambda",
                metric_name="IteratorAge",
                dimensions_map={"FunctionName": app.chalice.get_resource(fn.logical_id).ref},
                statistic="Maximum",
                period=Duration.minutes(1),
            )
            self._alarm(
                f"{fn.logical_id}IteratorAge", age, STREAM_ITERATOR_AGE_MS, "table stream consumer is behind", periods=5
            )
            fn_metrics[fn.logical_id]["IteratorAge"] = age

        dlq_depths = []
        for name, queue in messaging.dead_letter_queues.items():
            depth = queue.metric_approximate_number_of_messages_visible(
                period=five_min, statistic="Maximum", label=name
            )
            dlq_depths.append(depth)
            self._alarm(f"{name}Depth", depth, 1, f"messages in {name}: a delivery failed for good")
        webhook_age = messaging.webhooks.metric_approximate_age_of_oldest_message(period=five_min, statistic="Maximum")
        self._alarm("WebhookBacklog", webhook_age, WEBHOOK_OLDEST_MESSAGE_S, "outbound webhooks are not draining")

        deferred = cw.Metric(
            namespace=METRICS_NAMESPACE,
            metric_name="AfterCommitDeferred",
            dimensions_map={"service": METRICS_SERVICE},
            statistic="Sum",
            period=five_min,
        )
        self._alarm(
            "AfterCommitDeferred",
            deferred,
            1,
            "effects after a commit (feed fan-out, messages, alerts, webhooks) failed in the request "
            "and were left to their stream / schedule re-drive: a dependency is failing",
        )
        for metric_name, what in (
            ("BadItemSkipped", "a schedule or the stream skipped a stored item it cannot read (see the log line)"),
            ("DigestTenantFailed", "the team digest failed for a tenant (the others went on; see the log line)"),
            (
                "ResponseShapeInvalid",
                "an answer did not match its own response model (e.g. a stored value the model does not list); "
                "it was answered unvalidated: see the log line for the route and the field",
            ),
            ("JobFailed", "a background job (an org change's re-index) failed for good: see GET /v1/admin/jobs"),
        ):
            self._alarm(
                metric_name,
                cw.Metric(
                    namespace=METRICS_NAMESPACE,
                    metric_name=metric_name,
                    dimensions_map={"service": METRICS_SERVICE},
                    statistic="Sum",
                    period=five_min,
                ),
                1,
                what,
            )

        self._push_alarms(settings, app)

        table_errors = data.table.metric_system_errors_for_operations(period=five_min)
        throttled = cw.Metric(
            namespace="AWS/DynamoDB",
            metric_name="ThrottledRequests",
            dimensions_map={"TableName": data.table.table_name},
            statistic="Sum",
            period=five_min,
        )
        self._dashboard(settings, api_dims, fn_metrics, dlq_depths, webhook_age, table_errors, throttled)

    def _push_alarms(self, settings: StageSettings, app: FieldsalesApp) -> None:
        """The share of pushes that fail: what SNS could not hand to APNs / FCM / Baidu (per
        platform application), and what the app's own Publish calls could not send."""
        period = Duration.minutes(15)

        def rate(failed: cw.Metric, done: cw.Metric, label: str) -> cw.MathExpression:
            return cw.MathExpression(
                expression=f"IF(failed + done >= {PUSH_MIN_VOLUME}, failed / (failed + done), 0)",
                using_metrics={"failed": failed, "done": done},
                period=period,
                label=label,
            )

        for platform in app.push.applications:
            dims = {"Application": application_name(settings.stage, platform), "Platform": PUSH_PLATFORMS[platform]}
            failed, delivered = (
                cw.Metric(namespace="AWS/SNS", metric_name=name, dimensions_map=dims, statistic="Sum", period=period)
                for name in ("NumberOfNotificationsFailed", "NumberOfNotificationsDelivered")
            )
            self._alarm(
                f"PushDeliveryFailureRate{platform.title().replace('_', '')}",
                rate(failed, delivered, f"{platform} push failure rate"),
                PUSH_FAILURE_RATE,
                f"over {PUSH_FAILURE_RATE:.0%} of {platform} pushes failed at the provider (credentials expired? "
                "the app's bundle or project changed?)",
            )
        if app.push.applications:
            failed, sent = (
                cw.Metric(
                    namespace=METRICS_NAMESPACE,
                    metric_name=name,
                    dimensions_map={"service": METRICS_SERVICE},
                    statistic="Sum",
                    period=period,
                )
                for name in ("PushFailed", "PushSent")
            )
            self._alarm(
                "PushPublishFailureRate",
                rate(failed, sent, "push publish failure rate"),
                PUSH_FAILURE_RATE,
                f"over {PUSH_FAILURE_RATE:.0%} of the fan-out's SNS Publish calls failed (throttled, refused)",
            )

    def _alarm(self, construct_id: str, metric: cw.IMetric, threshold: float, description: str, periods: int = 1):
        alarm = cw.Alarm(
            self,
            construct_id,
            metric=metric,
            threshold=threshold,
            evaluation_periods=periods,
            datapoints_to_alarm=periods,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        alarm.add_alarm_action(self._action)
        alarm.add_ok_action(self._action)
        self.alarms.append(alarm)
        return alarm

    def _dashboard(self, settings, api_dims, fn_metrics, dlq_depths, webhook_age, table_errors, throttled) -> None:
        def api(metric: str, stat: str) -> cw.Metric:
            return cw.Metric(
                namespace="AWS/ApiGateway",
                metric_name=metric,
                dimensions_map=api_dims,
                statistic=stat,
                period=Duration.minutes(5),
            )

        def per_function(metric: str) -> list[cw.IMetric]:
            return [m[metric] for m in fn_metrics.values() if metric in m]

        dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=f"{Stack.of(self).stack_name}-operations")
        dashboard.add_widgets(
            cw.TextWidget(
                markdown=f"# Fieldsales {settings.stage}\nAPI, event handlers, queues and the table. "
                "Any DLQ above zero means a delivery failed for good: inspect, fix, redrive.",
                width=24,
                height=2,
            )
        )
        dashboard.add_widgets(
            cw.GraphWidget(
                title="API requests", left=[api("Count", "Sum")], right=[api("4XXError", "Sum"), api("5XXError", "Sum")]
            ),
            cw.GraphWidget(title="API latency (ms)", left=[api("Latency", "p50"), api("Latency", "p99")]),
            cw.AlarmStatusWidget(title="Alarms", alarms=self.alarms, width=8, height=6),
        )
        dashboard.add_widgets(
            cw.GraphWidget(title="Lambda errors", left=per_function("Errors"), width=8),
            cw.GraphWidget(title="Lambda throttles", left=per_function("Throttles"), width=8),
            cw.GraphWidget(title="Lambda duration p99 (ms)", left=per_function("Duration"), width=8),
        )
        dashboard.add_widgets(
            cw.GraphWidget(title="Dead-letter queues (messages)", left=dlq_depths, width=8),
            cw.GraphWidget(title="Webhook queue: oldest message (s)", left=[webhook_age], width=8),
            cw.GraphWidget(title="Table stream iterator age (ms)", left=per_function("IteratorAge"), width=8),
        )
        dashboard.add_widgets(
            cw.GraphWidget(title="Table throttled requests", left=[throttled], width=12),
            cw.GraphWidget(title="Table system errors", left=[table_errors], width=12),
        )
