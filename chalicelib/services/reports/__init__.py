"""Reports: work reports (daily, weekly, monthly) written against the tenant's templates.

Owns the templates (``templates``), the per-user-and-day figures kept on write from the
table stream that ``auto`` fields sum (``figures``), the reports themselves with their
recipients, read receipts and feed activities (``reports``), and who submitted what on
time (``compliance``: the leader's view and the team digest's missing reports). Imports
``expenses`` (exchange rates), ``feed``, ``inbox``, ``access`` and ``org``; ``performance``
(the digest) imports it.
"""
