"""Platform: what every capability shares and none owns.

Effects after a commit point (``aftercommit``), the Idempotency-Key store
(``idempotency``) and domain events on EventBridge (``events``). Imports no capability.
"""
