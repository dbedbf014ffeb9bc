"""Channels turn protocol input into InboundMessage and send outgoing messages."""
