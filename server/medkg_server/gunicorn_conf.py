"""Gunicorn settings for the command-line route (`gunicorn -c python:medkg_server.gunicorn_conf`).

`medkg serve` / `medkg_server.serve()` set the same options programmatically.
"""

from medkg_server.gunicorn_app import _post_worker_init, _worker_exit

worker_class = "gthread"
threads = 8
workers = 2
timeout = 150
limit_request_line = 0
control_socket_disable = True
reuse_port = True  # one listening socket per worker: the kernel balances connections
post_worker_init = _post_worker_init
worker_exit = _worker_exit
