"""Use cases of feeds."""
