"""Expenses: everything about money a rep spends. The expense lifecycle (``expenses``),
the approvals queue and bulk decisions (``approvals``), delegation (``delegation``),
budgets and their alerts (``budgets``), currencies (``fx``), mileage claims (``mileage``)
and expense statistics kept on write (``stats``).
"""
