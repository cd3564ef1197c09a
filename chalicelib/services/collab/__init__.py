"""Collaboration: the collaborative-office items as real objects. Tasks with assignees,
due times, reminders and completion (``tasks``), instructions with acknowledgement
receipts (``instructions``), approval requests (leave, business trip, discount, other) on
the expense approver chain and its delegation (``requests``), the approved leave the team
digest honours (``leave``), and what they share (``common``: related CRM objects, their
feed activities, who is one's manager).

Sits above expenses (the approver chain) and schedule (the reminder schedule) and below
performance (the team digest reads overdue tasks and leave).
"""
