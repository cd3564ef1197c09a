"""Offline sync and the calendar feed: what a phone mirrors of its user's data.

Owns the per-viewer change log (models/sync.py), kept from the table stream as a projection
of the CRM list index (a whole-range list entry written or deleted) and of plans (and of
tasks, through ``changelog.record``); ``GET /v1/sync`` (first sync from the list index,
then the log from a position, each change resolved from current state when read); and the
secret ICS calendar feed of a user's plans and open tasks. Reads crm and schedule; nothing
below imports it. See docs/sync.md.
"""
