"""WSGI entry point for running under any WSGI server, e.g. `gunicorn medkg_server.wsgi:app`.

Configure it with MEDKG_* variables; the query pool starts on the first query.
"""

from medkg_server.app import create_app

app = create_app()
