"""Retrieval evaluation: metrics, BEIR data sets and workspace question sets (``ragls eval``)."""
