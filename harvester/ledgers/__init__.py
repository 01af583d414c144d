"""Backends of ``harvester.ledger.Ledger``."""
