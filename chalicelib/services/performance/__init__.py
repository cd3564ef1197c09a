"""Performance: goals and their actuals kept on write (``goals``, ``actuals``), the
pipeline statistics (``oppstats``) and the leader's daily team digest (``digest``).
"""
