"""The whole region under new-contact load: see `__main__.py`."""
