"""Flows: operations that compose several capabilities, named so none hides in a callee.

``overview`` (the opportunity overview: crm, fieldwork, schedule, expenses, feed),
``offboarding`` (reporting changes and deactivation that move work between people),
``redrive`` (finishing after-commit effects from the stream) and ``backfill`` (the
write-time indexes for data stored before they existed). Only handlers import a flow.
"""
