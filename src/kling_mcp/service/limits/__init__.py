"""Spending within limits: the per-owner spend limit, the account's credits, and Kling's account-wide concurrency."""
