"""REST API v1 (`/api/v1`), JSON in and out; errors are `{"error": {"code", "message"}}`."""
