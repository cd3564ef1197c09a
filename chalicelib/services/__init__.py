"""Domain services, one package per capability (see docs/architecture.md for the map).

The packages form a one-way graph, enforced by ``make lint`` (.importlinter), from the
top: flows -> sync -> performance -> collab | reports -> expenses | schedule -> fieldwork -> crm
-> feed -> uploads | inbox | integrations | access | push -> org -> platform. A caller composes; a callee
never calls back up.
"""
