"""Desired and observed state: SQLite by default, PostgreSQL for many processes."""
