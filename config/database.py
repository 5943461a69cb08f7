from django.conf import settings
from django.db import connections


def create_schema_if_missing(using: str = "default") -> None:
    """Create the schema named by DATABASE_SCHEMA on PostgreSQL, if needed."""
    schema = settings.DATABASE_SCHEMA
    connection = connections[using]
    if not schema or connection.vendor != "postgresql":
        return

    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE SCHEMA IF NOT EXISTS " + connection.ops.quote_name(schema)
        )
