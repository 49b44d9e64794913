"""The pure rules of the ledger: no AWS imports, no I/O."""
