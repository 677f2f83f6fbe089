"""Repositories: where they live, how they are fetched and checked out."""
