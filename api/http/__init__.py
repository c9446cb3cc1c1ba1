"""The HTTP surface: the FastAPI app factory, its routers, problem details, pagination, security, page and schemas."""
