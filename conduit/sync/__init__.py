"""Keeping Conduit issues and tracker tickets in step: installing, linking, sync out, sync in, reconcile."""
