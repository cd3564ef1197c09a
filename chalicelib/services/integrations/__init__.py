"""Integrations: the finance system's signed webhooks (Standard Webhooks 1.0) in both
directions. Verifies and parses inbound events; the handler that owns the route picks the
capability function for the event's type (this package never calls up into expenses).
"""
