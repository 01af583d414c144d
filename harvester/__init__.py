"""Harvester: sources, protocol clients, format crosswalks, harvest runs."""
