"""Models: SQL tables in the ``analytics`` schema, built from the raw analytics_api tables."""
