"""Store ledgers: entries, fees, payouts, the money side of refunds, settlements (SPEC §6)."""
