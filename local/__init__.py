"""The local stack: an embedded AWS stand-in (moto server) plus the pumps that do what
AWS would (schedules, S3 -> EventBridge, DynamoDB streams, SQS -> Lambda)."""
