"""Integrators' apps: registration, secrets, installations and the tokens apps call the API with."""
