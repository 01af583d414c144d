"""Catalogue: the canonical record model, its renderings, the index backends and the query model."""
