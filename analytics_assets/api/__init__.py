"""The API side: a dlt ``rest_api`` source for the sales-engagement API, built from schema.py."""
