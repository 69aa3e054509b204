"""pytest-fakellm: a fake LLM for your test suite (see plugin.py)."""

__all__: list[str] = []
