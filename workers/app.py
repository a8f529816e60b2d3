"""The Celery app for `celery -A workers.app worker` and `celery -A workers.app beat`.

Building the Flask app here is the point of this module: it is only imported by the Celery
command line, never by engage.
"""

from engage import create_app

flask_app = create_app()
celery = flask_app.extensions["celery"]
