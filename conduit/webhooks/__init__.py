"""Webhook delivery: turning published events into deliveries to app endpoints, and sending them.

Standard Webhooks signing, the retry schedule, the per-endpoint throttle, the sender (through the
address guard, conduit.egress), the delivery log, and the jobs that deliver and prune. Apps configure
endpoints (conduit.apps); the events and their schemas are the catalog's (conduit.events).
"""
