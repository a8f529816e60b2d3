"""Celery entry point (`workers.app`) and tasks (`workers.tasks`): thin wrappers over engage."""
