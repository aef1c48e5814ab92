"""Royalties: rights holders, splits, revenue, the monthly run, statements and artist analytics."""
