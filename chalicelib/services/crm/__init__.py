"""CRM: accounts, contacts, opportunities and leads; ownership, account teams, archive;
their write-time list, search and nearby index (``list_index``, ``geocells``) and the
reads over it (``lists``).
"""
