"""Inputs: brand configs, the calendar of moving events, real sales ingest, synthetic sales."""
