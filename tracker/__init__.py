"""tracker: a self-hosted topic-tracking alert daemon."""
