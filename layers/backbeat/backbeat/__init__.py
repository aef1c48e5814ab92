"""Backbeat: the shared domain package of every Lambda function (the `backbeat` layer)."""

__version__ = "0.1.0"
