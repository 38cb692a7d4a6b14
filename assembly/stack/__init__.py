"""`mychat stack`: the production topology as local processes, without Docker.

nginx (rendered from the repository's nginx.conf) in front of auth_service, chat_service and N
gateway processes, all on MariaDB and Redis, each on a free port, supervised: a process that
exits is started again. One module per job:

- `nginx`: render nginx.conf for local ports and paths, check it with `nginx -t`;
- `databases`: create, load (db/init.sql) and drop the MariaDB database;
- `redis`: check that Redis answers;
- `processes`: one child in its own process group;
- `supervisor`: restart what exits, with backoff for what keeps exiting;
- `topology`: the stack's processes, started, faulted and stopped together;
- `command`: `mychat stack` itself.
"""

from assembly.stack.command import run_stack, stack_command
from assembly.stack.databases import drop_database, init_sql_statements, prepare_database
from assembly.stack.errors import StackError
from assembly.stack.nginx import (
    NGINX_MARKER,
    check_nginx_conf,
    local_nginx_values,
    nginx_command,
    render_nginx_conf,
)
from assembly.stack.processes import ManagedProcess, free_port
from assembly.stack.redis import check_redis
from assembly.stack.supervisor import RestartPolicy, Supervisor
from assembly.stack.topology import Stack, StackConfig

__all__ = [
    "NGINX_MARKER",
    "ManagedProcess",
    "RestartPolicy",
    "Stack",
    "StackConfig",
    "StackError",
    "Supervisor",
    "check_nginx_conf",
    "check_redis",
    "drop_database",
    "free_port",
    "init_sql_statements",
    "local_nginx_values",
    "nginx_command",
    "prepare_database",
    "render_nginx_conf",
    "run_stack",
    "stack_command",
]
