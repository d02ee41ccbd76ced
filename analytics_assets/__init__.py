"""analytics_assets: a sales-engagement API mirrored into a warehouse with dlt and Dagster."""
