"""The admin API routes of feeds and tenants."""
