"""AWS calls per ledger posting, by ledger size (issue 11 item 5): a count, not a time.

A captured payment's later events (refund, dispute, update) run the ledger listener again. Before
the fix each repeat tried the transaction, failed as a duplicate and queried the store's whole
ledger (items read grew with the ledger); now it is one ``BatchGetItem`` of the payment's own
entries whatever the ledger's size. A first posting is that read plus one transaction.
"""

from __future__ import annotations

from tests.benchmarks.bench_workflows import _workflow_environment

LEDGER_SIZES = (10, 200)


def run() -> dict[str, float]:
    from cardops.ledger.wiring import ledger_listener
    from tests.helpers import counting_aws_calls
    from tests.integration.ledger.conftest import as_change, capture_payment

    figures: dict[str, float] = {}
    for size in LEDGER_SIZES:
        with _workflow_environment():
            for n in range(size // 2):  # each capture posts a sale and a fee
                capture_payment(payment_id=f"pay_old_{n}", store_id=f"store-{size}")
            fresh = capture_payment(payment_id="pay_new", store_id=f"store-{size}", post_ledger=False)
            with counting_aws_calls() as first:
                ledger_listener(as_change(fresh))
            with counting_aws_calls() as repeat:
                ledger_listener(as_change(fresh))
        figures[f"first posting, ledger of {size}: AWS calls"] = first.total()
        figures[f"repeat posting, ledger of {size}: AWS calls"] = repeat.total()
        figures[f"repeat posting, ledger of {size}: items read"] = repeat.items_read
    return figures


if __name__ == "__main__":
    for name, value in run().items():
        print(f"{name:<50} {value:>8.0f}")
