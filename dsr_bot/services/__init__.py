"""Services: the workflow applied to the store (pipeline, outbox sender)."""
