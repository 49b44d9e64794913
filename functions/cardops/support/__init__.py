"""Support cases and complaints with business-day SLAs (issue 16; seed 002, the Issuing/Treasury guide)."""
