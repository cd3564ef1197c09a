"""Access: who may see what, decided from the current org data.

``visibility`` is the one visible-range rule (the feed's ``all`` scene: owner, account
team, their managers at any depth, heads of the owner's departments, admins) and the
audience of every activity; ``refs`` is the one reference checker every id in a request
body goes through (422 ``unknown_<thing>``); ``context`` is the request's context (the
caller, the tenant's settings and zone, the caller's visibility data and the request's one
visibility loader, each read at most once per request). Imports ``org``.
"""
