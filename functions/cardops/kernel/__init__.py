"""Shared by every slice: money, the business calendar, the clock, settings, AWS clients,
the DynamoDB base and errors.
"""
