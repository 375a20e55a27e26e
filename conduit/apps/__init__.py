"""Integrators' apps: registration, secrets, installations, the tokens apps call the API with, and the
OAuth token endpoint that issues them."""
