"""Alerts derived from the person view: repeat-assessment detection."""
