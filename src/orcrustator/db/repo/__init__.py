"""Repositories: one module per aggregate, each a set of functions over an open connection.

Callers own the transaction (`Database.read()` / `Database.write()`); a repository never commits.
"""
