"""WSGI entry point for production servers: ``fengqiao serve`` runs it with Granian; any WSGI server
can (``granian --interface wsgi web.wsgi:app``)."""

from web import create_app

app = create_app()
