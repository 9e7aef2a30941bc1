"""Billing package."""
