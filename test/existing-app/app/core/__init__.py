"""The application core: what the seed imports from it."""
