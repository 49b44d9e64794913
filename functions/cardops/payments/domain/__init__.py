"""The pure rules of payments: no AWS imports, no I/O."""
