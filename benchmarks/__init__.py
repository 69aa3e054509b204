"""Benchmarks for fakellm (not shipped in the wheel, not run by pytest): see README.md here."""
