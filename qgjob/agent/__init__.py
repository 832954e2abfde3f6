"""Agents hold devices, pull batches from the server, run them and report back."""
