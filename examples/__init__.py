"""Examples that run beside Conduit; each is self-contained and imports nothing from `conduit`."""
