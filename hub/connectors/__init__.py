"""Channel connectors: the protocol (``hub.connectors.base``) and the built-ins."""
