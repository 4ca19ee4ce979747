"""HAProxy 2.6 vs balancekit, keyword by keyword (see docs/conformance.md)."""
