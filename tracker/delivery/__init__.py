"""Delivery: routing (digests, quiet hours, rate limits), the outbox, and the channels."""
