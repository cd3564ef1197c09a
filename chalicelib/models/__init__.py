"""PynamoDB entities over the single table. Keys and queries live here."""
