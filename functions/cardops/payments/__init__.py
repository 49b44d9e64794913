"""Payments: lifecycle, webhooks, the capture deadline, re-payment,
and refunds at the provider (SPEC §1-§5).
"""
