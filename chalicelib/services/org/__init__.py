"""Organisation: departments, the reporting tree, projects, users, tenant settings and the
tenant's opportunity pipeline (``pipeline``) and work calendar (``workcalendar``: the one
working-day rule).

Owns the org data every "who may act" rule is decided from, and the cheap reads over it
(materialised paths: "who is below X", "which departments does X head"). Imports only
``platform``.
"""
