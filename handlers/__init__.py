"""Thin Tornado adapters over the core in `spreed/`."""
