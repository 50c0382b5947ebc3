"""The control side: one active controller turns desired state into assignments and statuses."""
