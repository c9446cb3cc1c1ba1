"""One router module per resource; ``ROUTERS`` lists them in the order they are mounted."""
