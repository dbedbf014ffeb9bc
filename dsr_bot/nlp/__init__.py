"""Reading what a message asks: classification and language."""
