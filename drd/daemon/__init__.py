"""The long-running service: composition root, scheduling, leader election, health endpoints."""
