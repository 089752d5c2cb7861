"""Storage: all SQL behind one facade."""
