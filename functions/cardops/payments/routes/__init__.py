"""The admin API routes and the webhook resolver of payments."""
