"""Fieldwork: GPS sign-ins with verified photos and the visits they make, the leader's
team day (``teamday``) and the day's route (``day_route`` over the pure ``routing``).
"""
