"""Dashboard pages, one module per area, mirroring the API's routes."""
