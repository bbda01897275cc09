"""The contract suite: every registered extractor and loader passes the same tests."""
