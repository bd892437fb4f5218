"""pytest fixtures for faultdns (registered through the ``pytest11`` entry point)."""
