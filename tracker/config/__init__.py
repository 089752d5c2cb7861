"""Configuration: the pydantic schema of config.yaml, its loader and cross-key checks.

pydantic lives here only; the rest of tracker gets plain values built from it.
"""
