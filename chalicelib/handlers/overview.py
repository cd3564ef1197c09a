"""Opportunity overview: an opportunity with everything tied to it."""

from __future__ import annotations

from chalice import Blueprint

bp = Blueprint(__name__)
