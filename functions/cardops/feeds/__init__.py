"""Corporate card statement feeds: sync, matching, error data, diagnosis (SPEC §7)."""
