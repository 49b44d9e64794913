"""Pure rules of support cases: no AWS imports, no clock reads (``now`` is always passed in)."""
