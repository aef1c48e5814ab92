"""Binding pynamodb models to the deployed tables' names, once per execution environment."""

from __future__ import annotations

from pynamodb.models import Model


def bind_models(table_name: str, *models: type[Model]) -> None:
    """Point `models` (all the entity classes of one table) at `table_name`: the name comes from the
    function's settings at cold start, so the class definitions cannot carry it."""
    for model in models:
        if model.Meta.table_name == table_name and model._connection is not None:
            continue  # already bound: keep the connection (and its client) of the environment
        model.Meta.table_name = table_name
        model._connection = None  # drop a connection bound to another table name
