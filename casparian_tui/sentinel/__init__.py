"""Sentinel: the job queue, the worker pool and the parser runner."""
