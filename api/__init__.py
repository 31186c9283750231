"""The read API: finsent's stored series, articles, alerts and feed health over HTTP
(FastAPI, OpenAPI at ``/openapi.json``), and the exports of series and articles to CSV
and Parquet. Both read through ``storage``, the queries the dashboard runs."""
