"""Asset checks of the raw tables, generated from schema.py."""
