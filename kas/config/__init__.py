"""Project configuration: reading files, includes and merging, validation,
typed access to the effective configuration, and writing it back out."""
