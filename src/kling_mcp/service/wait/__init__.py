"""Waiting for a task: polling on a learned schedule, coalesced, woken early by callbacks."""
