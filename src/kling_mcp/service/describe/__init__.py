"""Describing tasks to callers: the result models, following one task, saving its video, whose tasks a caller sees."""
