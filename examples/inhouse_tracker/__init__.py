"""The reference in-house tracker: Conduit's tracker contract v1 over Starlette and SQLite."""
