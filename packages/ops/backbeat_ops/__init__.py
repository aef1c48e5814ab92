"""Backbeat's operator tools: the `backbeat` command line (users, search reindex, ingest), demo
catalog seeding and the catalog scan behind reindexing. They import `backbeat`; `backbeat` never
imports them, and none of this ships in the Lambda layer."""
