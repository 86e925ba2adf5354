"""The package version, in a module of its own so that the CLI can print it
without importing the public API (and the API can import the CLI's helpers)."""

__version__ = "0.1.0"
