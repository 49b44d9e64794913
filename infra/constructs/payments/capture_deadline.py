"""The capture-deadline workflow (SPEC §3): its task function, state machine, operator queue and alarms.

The definition is ``functions/cardops/payments/state_machines/capture_deadline.asl.json`` — the same file the
sandbox and the tests run — with the function ARN substituted (``resources.STATE_MACHINES``).
"""

from __future__ import annotations

from aws_cdk import CfnOutput
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.constructs.building_blocks import end_of_line_queue
from infra.constructs.kernel import TABLE_DELETE, TABLE_READ, TABLE_WRITE, Kernel
from infra.constructs.monitoring import FIVE_MINUTES, alarm, service_metric
from infra.constructs.workflows import standard_workflow
from infra.logical_ids import keep_logical_id

NAME = "CaptureDeadline"


class CaptureDeadlineWorkflow(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        kernel: Kernel,
        task: lambda_.Function,
        starters: list[lambda_.Function],
    ) -> None:
        super().__init__(scope, construct_id)
        # operator cases outlive a prod stack
        self.operator_queue = end_of_line_queue(
            self,
            "OperatorQueue",
            kernel=kernel,
            why="The operator queue is the end of the line: people read it (alarmed on depth); a DLQ "
            "behind it would only hide cases from them.",
        )
        keep_logical_id(self.operator_queue, "CaptureDeadlineOperatorQueue0DA7474A")
        self.bus = bus = events.EventBus.from_event_bus_name(self, "DefaultBus", "default")

        task.add_environment("OPERATOR_QUEUE_URL", self.operator_queue.queue_url)
        task.add_environment("EVENT_BUS_NAME", bus.event_bus_name)
        # the capture use case: payments, outcome claims (taken and released)
        kernel.table.grant(task, *TABLE_READ, *TABLE_WRITE, *TABLE_DELETE)
        kernel.grant_api_keys(task)
        self.operator_queue.grant_send_messages(task)
        bus.grant_put_events_to(task)

        # the definition's one task function
        self.workflow = standard_workflow(
            self,
            NAME,
            functions={"capture_deadline": task},
            failed_alarm=("CaptureDeadlineFailedExecutions", "Capture-deadline executions failed."),
        )
        self.state_machine = self.workflow.state_machine

        # the processor starts one execution per authorization (the janitor worker restarts a lost start);
        # a capture or cancel, by webhook or through the admin API, stops the waiting execution
        for starter in starters:
            self.grant_starter(starter)

        self.alarms = [
            alarm(
                self,
                "AutoRefundFailed",
                "An automatic refund at the capture deadline failed; the case is in the operator queue.",
                service_metric("AutoRefundFailed", "capture-deadline"),
                threshold=1,
            ),
            self.workflow.failed_alarm,
            alarm(
                self,
                "OperatorQueueAlarm",
                "Cases wait in the operator queue.",
                self.operator_queue.metric_approximate_number_of_messages_visible(period=FIVE_MINUTES),
                threshold=1,
            ),
        ]
        CfnOutput(self, "OperatorQueueUrl", value=self.operator_queue.queue_url, key="OperatorQueueUrl")

    def grant_alerts(self, function: lambda_.Function) -> None:
        """Hand a case to operators: a reversed refund's finance alert goes to the operator queue."""
        function.add_environment("OPERATOR_QUEUE_URL", self.operator_queue.queue_url)
        self.operator_queue.grant_send_messages(function)

    def grant_starter(self, function: lambda_.Function) -> None:
        """What starts and stops a payment's deadline execution (the change feed), and alerts."""
        function.add_environment("CAPTURE_DEADLINE_STATE_MACHINE_ARN", self.state_machine.state_machine_arn)
        self.state_machine.grant_start_execution(function)
        self.state_machine.grant_execution(function, "states:StopExecution")
        self.grant_alerts(function)
        self.workflow.acknowledge_executions(
            function,
            "Stop executions of this one state machine (execution names are per payment, so the "
            "ARN ends in a wildcard); no other state machine.",
        )

    def grant_notifications(self, function: lambda_.Function) -> None:
        """Publish the store/customer notifications a capture or an expiry sends (EventBridge)."""
        function.add_environment("EVENT_BUS_NAME", self.bus.event_bus_name)
        self.bus.grant_put_events_to(function)
