"""WSGI entry point for running under any WSGI server, e.g.
`gunicorn -c python:medkg_server.gunicorn_conf medkg_server.wsgi:app` (configure with MEDKG_*)."""

from medkg_server.app import create_app

app = create_app()
