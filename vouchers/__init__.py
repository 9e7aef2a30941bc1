"""Vouchers package."""
