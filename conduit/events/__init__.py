"""The event catalog, its resources and schemas, emitting into the outbox, publishing to subscribers
(conduit.events.publish), and the live broker. Core: it names no domain; domains subscribe."""
