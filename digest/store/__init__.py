"""The store: the tables (`models`), the engine and its sessions (`db`), the schema and its
migrations (`schema`, `migrations/`), and every query the project makes, one module per
aggregate (sources, articles, subscribers, editions, deliveries, sends...). Nothing
outside this package speaks SQL; the rooms above call these functions."""
