"""The web console (issue 15): server-rendered pages for store admins, support, finance and tenants."""
