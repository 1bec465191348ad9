"""medkg_server: the SPARQL endpoint, linked-data pages and query UI of medkg.

`create_app(config)` builds the Flask application; `serve(settings, host, port, workers)` runs it
under granian. The library `medkg` never imports this package.
"""

from medkg_server.app import create_app
from medkg_server.serving import serve

__all__ = ["create_app", "serve"]
