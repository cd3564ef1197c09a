"""Operator and maintainer tools run from a workstation (``make stream-filter``, ``make redrive``)."""
