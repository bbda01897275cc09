"""Everything that talks SQL: URLs, engine set-up, tables, and the repositories."""
