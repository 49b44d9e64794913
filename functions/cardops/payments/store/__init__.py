"""DynamoDB, SQS, S3, EventBridge and Step Functions adapters of payments."""
