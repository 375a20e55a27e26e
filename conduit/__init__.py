"""Conduit: an integration hub between error events and issue trackers."""

__version__ = "0.1.0"
