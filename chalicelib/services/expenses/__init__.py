"""Expenses: everything about money a rep spends. The expense lifecycle (``expenses``),
the approvals queue and bulk decisions (``approvals``), delegation (``delegation``),
budgets and their alerts (``budgets``), currencies (``fx``), mileage claims (``mileage``),
the money rules every expense write obeys (``money``) and expense statistics kept on write
(``stats``). Who may approve is one function, ``expenses.approver_chain``.
"""
