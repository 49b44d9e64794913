"""Card statement feed sync, the pure part (SPEC §7): formats, reading, matching, diagnosis.

No I/O here beyond reading a binary stream handed in; S3, DynamoDB and the Lambda wire it up.
"""
