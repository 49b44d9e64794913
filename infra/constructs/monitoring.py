"""How every slice declares its alarms and dashboard widgets: an alarm is named in its description
(the README's runbook heading), alarms at ``>=`` threshold, missing data is fine. The observability
construct gives each alarm the alarm topic and lays the widgets out; a slice only says what to watch.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

NAMESPACE = "cardops"
FIVE_MINUTES = Duration.minutes(5)


def service_metric(name: str, service: str, statistic: str = "Sum") -> cloudwatch.Metric:
    """A Powertools metric: namespace ``cardops``, dimension ``service``."""
    return cloudwatch.Metric(
        namespace=NAMESPACE,
        metric_name=name,
        dimensions_map={"service": service},
        statistic=statistic,
        period=FIVE_MINUTES,
    )


def alarm(
    scope: Construct,
    name: str,
    description: str,
    metric: cloudwatch.IMetric,
    *,
    threshold: float,
    periods: int = 1,
) -> cloudwatch.Alarm:
    """An alarm whose description starts with ``[name]``: the README's runbook heading for it."""
    return cloudwatch.Alarm(
        scope,
        name,
        alarm_description=f"[{name}] {description}",
        metric=metric,
        threshold=threshold,
        evaluation_periods=periods,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )


def function_widget(key: str, function: lambda_.IFunction) -> cloudwatch.GraphWidget:
    """Invocations, errors and p99 duration of one function."""
    return cloudwatch.GraphWidget(
        title=f"{key} function",
        left=[function.metric_invocations(period=FIVE_MINUTES), function.metric_errors(period=FIVE_MINUTES)],
        right=[function.metric_duration(period=FIVE_MINUTES, statistic="p99")],
        width=8,
    )
