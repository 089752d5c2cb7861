"""Topics: the query language, the compiled matcher, and tuning tools (test, backtest)."""
