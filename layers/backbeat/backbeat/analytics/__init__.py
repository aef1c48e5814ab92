"""The event lake: its layout in S3 (`layout`), the SQL that reads it (`sql/`, one dialect that both
Athena and DuckDB run, through `queries`), the engines that run that SQL (`engines`: Athena in AWS,
DuckDB over the same Parquet locally) and the daily aggregates job (`aggregates`)."""
