"""The warehouse layer, below ingest, checks and models: the dlt pipeline that loads it
(``pipeline.py``), set-based SQL over it (``sql.py``) and its single-writer lock (``lock.py``)."""
