"""What lives on disk: the SQLite store and its migrations, keys, audit, caches, atomic writes."""
