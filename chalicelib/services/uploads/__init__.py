"""Uploads: presigned S3 POSTs, and verifying and thumbnailing what arrives
(``images``: pure bytes in, verdict out). Photos, receipts and attachments all pass here.
"""
