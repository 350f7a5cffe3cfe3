"""The data layer: what holds state (the database, its keys and secrets, buckets, repositories,
Prometheus's file system, backups)."""
