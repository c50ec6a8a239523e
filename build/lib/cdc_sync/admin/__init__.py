"""Operator commands' logic for the stack: connectors, consumer offsets, contracts."""
