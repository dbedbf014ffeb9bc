"""Runs the stand-in: ``python -m tests.servers.bot_api --port N --token T [--parent-pid P]``."""

from tests.servers.bot_api.server import main

if __name__ == "__main__":
    main()
