"""The staff console: a server-rendered web app (Starlette + Jinja2) on the bot's event loop."""
