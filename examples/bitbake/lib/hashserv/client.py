"""Stand-in: see hashserv/__init__.py."""
