"""In-memory fakes of every port the use cases take, one module per slice.

Each fake keeps the conditions its real adapter has DynamoDB check (versions, the refund ceiling,
entries posted once) and raises the same errors, so the use cases' retry and refusal paths run on
them; ``tests/integration/test_fake_contracts.py`` runs the same checks on a fake and on its real
adapter (against moto) so the two cannot drift apart.
"""
