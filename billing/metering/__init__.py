"""Metering: vendors' usage events recorded, stored by month, and charted."""
