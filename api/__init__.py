"""Every surface of Passerelles: HTTP (FastAPI), CLI, storage, exports, web page."""
