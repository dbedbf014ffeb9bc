"""dsr-bot: handles GDPR/AVG data-subject requests that arrive by e-mail and chat."""

__version__ = "0.1.0"
