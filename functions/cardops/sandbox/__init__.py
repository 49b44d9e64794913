"""The local sandbox (``cardops local``): the whole system on 127.0.0.1 with no AWS account."""
