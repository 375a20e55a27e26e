"""The console: the web frontend `conduit serve` serves at `/`, and the HTTP endpoints it signs in with.
Everything else it reads and writes goes through the public GraphQL schema at `/graphql`."""
