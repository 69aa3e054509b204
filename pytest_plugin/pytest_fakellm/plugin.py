"""The pytest entry point (registered through ``pytest11``)."""
