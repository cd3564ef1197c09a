"""Inbox: the information center. Messages to one user, exactly once per dedupe key,
with an exact unread count. Imports nothing above ``platform``.
"""
