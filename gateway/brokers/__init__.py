"""Broker adapters: each turns one broker's API into core events and commands."""
