"""The HTTP API: an app factory, thin routers, schemas apart from the domain."""
