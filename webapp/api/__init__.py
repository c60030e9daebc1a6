"""JSON API under /api/v1, authenticated by API tokens."""
