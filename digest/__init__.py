"""Self-hosted newsletter digests: gather sources, build editions, send them on schedule."""

__version__ = "0.1.0"
