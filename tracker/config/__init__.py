"""Configuration: the pydantic schema of config.yaml, its loader and cross-key checks, and the
README reference generated from the schema.

pydantic lives here only; the rest of tracker gets plain values built from it. Callers load
with ``tracker.config.loader.load`` / ``parse``; this package imports nothing itself, so
importing one of its light modules (paths.py) stays cheap.
"""
