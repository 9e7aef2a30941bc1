"""Proprietary templates are package data, shipped beside the Python packages."""
