"""The Dagster code location: definitions, jobs, resources and the command line."""
