"""Use cases of payments: each reads like a sentence of SPEC.md, calling the domain and the stores."""
