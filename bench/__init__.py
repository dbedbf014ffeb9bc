"""`make bench`: ingest throughput, bare IMAP fetch and APPEND-to-acknowledgement latency.

Runs the real bot against a private Dovecot on loopback, with SQLite and (when reachable)
PostgreSQL; see bench/cli.py for the order of the phases and why.
"""
