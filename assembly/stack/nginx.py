"""nginx.conf rendering for local processes, and nginx's own check of the result."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from assembly.stack.errors import StackError

LOCALHOST = "127.0.0.1"
# A line of nginx.conf that the stack replaces: `<directive>;  # stack:<name>`.
NGINX_MARKER = re.compile(r"^(?P<indent>\s*)\S.*;\s*#\s*stack:(?P<name>[a-z_]+)\s*$")
# Passive health checks: one failed connection takes a gateway out of rotation for a few seconds.
GATEWAY_HEALTH = "max_fails=1 fail_timeout=5s"


def render_nginx_conf(template: str, values: Mapping[str, Sequence[str]]) -> str:
    """Replace every `# stack:<name>` line by the directives given for <name>.

    Every marker needs a value and every value a marker, so the file and the stack cannot drift.
    """
    rendered: list[str] = []
    seen: set[str] = set()
    for line in template.splitlines():
        match = NGINX_MARKER.match(line)
        if match is None:
            rendered.append(line)
            continue
        name = match["name"]
        if name not in values:
            raise StackError(f"nginx.conf marker stack:{name} has no value")
        seen.add(name)
        rendered.extend(match["indent"] + directive for directive in values[name])
    unused = set(values) - seen
    if unused:
        raise StackError(f"nginx.conf lacks the markers {sorted(unused)}")
    return "\n".join(rendered) + "\n"


def local_nginx_values(
    prefix: Path,
    *,
    port: int,
    auth_port: int,
    chat_port: int,
    gateway_ports: Sequence[int],
    web_root: Path,
) -> dict[str, list[str]]:
    """The local replacements: loopback ports, and every writable path inside `prefix`."""
    temp = prefix / "temp"
    user = [] if os.geteuid() != 0 else ["user root;"]  # root: workers must read the temp dir
    return {
        "user": user,
        "pid": [f"pid {prefix / 'nginx.pid'};"],
        "error_log": [f"error_log {prefix / 'error.log'} warn;"],
        "access_log": [f"access_log {prefix / 'access.log'} mychat;"],
        **{
            f"{kind}_temp_path": [f"{kind}_temp_path {temp / kind};"]
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        },
        "auth_servers": [f"server {LOCALHOST}:{auth_port};"],
        "chat_servers": [f"server {LOCALHOST}:{chat_port};"],
        "gateway_servers": [f"server {LOCALHOST}:{p} {GATEWAY_HEALTH};" for p in gateway_ports],
        "listen": [f"listen {LOCALHOST}:{port};"],
        "root": [f"root {web_root};"],
    }


def nginx_command(prefix: Path, conf: Path, *args: str) -> list[str]:
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    return [binary, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log"), *args]


def check_nginx_conf(prefix: Path, conf: Path) -> None:
    """`nginx -t` on a rendered file; raise with nginx's own words if it is refused."""
    result = subprocess.run(  # noqa: S603  # our own arguments, no shell
        nginx_command(prefix, conf, "-t", "-q"), capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise StackError(f"nginx -t refused {conf}:\n{result.stderr.strip()}")
