"""Thesaurus: SKOS vocabularies and matching of free keywords to concept URIs (issue 4)."""
