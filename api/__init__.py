"""API: the OGC API Records server (pygeoapi + our provider), the CLI."""
