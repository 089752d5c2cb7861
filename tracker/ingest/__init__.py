"""Ingest: fetch a feed, parse it, normalise its entries and store them in one transaction."""
