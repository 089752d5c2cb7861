"""Stories: which stored articles report the same event, within and across languages."""
