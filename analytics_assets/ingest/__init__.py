"""Ingest: the dlt pipeline wrapped as Dagster assets, one per API resource."""
