"""Schedule: plans, work logs, the calendar and the plan-vs-log comparison, and the plan
reminders schedule (``reminders``).
"""
