"""Pure business rules of SPEC.md: no AWS imports, no I/O."""
