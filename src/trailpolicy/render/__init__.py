"""Turning results into text: JSON and YAML for machines, markdown for people."""
