"""Search: the catalog indexed in OpenSearch by change data capture, queried typo-tolerantly,
re-ranked per listener."""
