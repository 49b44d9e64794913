"""Stateful resources keep their deployed logical ids (``infra/logical_ids.py``).

A logical id follows the construct path; when the stack was cut into one construct per slice, the
queues and buckets moved construct. Had their ids changed, a deploy would create new, empty ones and
orphan the retained originals with the parked events, operator cases and consent documents in them.
"""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.infra

# (type, logical id) of every resource that holds data, as first deployed
STATEFUL = {
    ("AWS::DynamoDB::Table", "CoreTableF8B57BAA"),
    ("AWS::SQS::Queue", "CoreEventsQueueA553171A"),
    ("AWS::SQS::Queue", "CoreEventsDeadLetterQueueA3B35771"),
    ("AWS::SQS::Queue", "CaptureDeadlineOperatorQueue0DA7474A"),
    ("AWS::SQS::Queue", "PaymentsJanitorQueue064F8463"),
    ("AWS::SQS::Queue", "PaymentsJanitorDeadLetterQueue178ED8FF"),
    ("AWS::SQS::Queue", "PaymentsChangesFailureQueueA0EC6359"),
    ("AWS::SecretsManager::Secret", "CoreProviderSecrets64FCC4DD"),
    ("AWS::SecretsManager::Secret", "CoreProviderApiKeys53D66CA2"),
    ("AWS::S3::Bucket", "FeedsAccessLogsB2AD92FB"),
    ("AWS::S3::Bucket", "FeedsFeedBucket8615EF2D"),
    ("AWS::S3::Bucket", "FeedsEvidenceBucket5D7C5FFB"),
    ("AWS::S3::Bucket", "SupportReportsBucketAF5B16DD"),
    ("AWS::KMS::Key", "ObservabilityAlarmTopicKey48516DE9"),
    # a replaced state machine deletes its running executions: deadlines days away, SLA timers
    ("AWS::StepFunctions::StateMachine", "PaymentsCaptureDeadlineStateMachine88033582"),
    ("AWS::StepFunctions::StateMachine", "PaymentsRepaymentStateMachineD2B375AB"),
    ("AWS::StepFunctions::StateMachine", "SupportStateMachineEB19097D"),
    ("AWS::Cognito::UserPool", "ConsoleUserPoolEC556DE1"),
}


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_stateful_resources_keep_their_logical_ids(templates: dict[str, dict[str, Any]], stage: str) -> None:
    resources = templates[stage]["Resources"]
    for kind, logical_id in STATEFUL:
        assert resources.get(logical_id, {}).get("Type") == kind, f"{kind} {logical_id} moved or is gone"


def test_every_stateful_resource_is_pinned(template: dict[str, Any]) -> None:
    kinds = {kind for kind, _ in STATEFUL}
    found = {(v["Type"], k) for k, v in template["Resources"].items() if v["Type"] in kinds}
    assert found == STATEFUL, "a new stateful resource: pin its logical id here once it is deployed"


#: the table's indexes and what each projects: changing an index's keys or projection rebuilds it
#: from the table (the readers see a partial index meanwhile), and CloudFormation applies one index
#: creation or deletion per stack update, so a change here needs its own deploy
INDEXES = {"gsi1": "ALL", "gsi2": "ALL", "gsi3": "KEYS_ONLY"}


def test_the_tables_indexes_keep_their_projections(template: dict[str, Any]) -> None:
    [table] = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::DynamoDB::Table"]
    found = {i["IndexName"]: i["Projection"]["ProjectionType"] for i in table["GlobalSecondaryIndexes"]}
    assert found == INDEXES, "an index was added, dropped or re-projected: see INDEXES before deploying"
