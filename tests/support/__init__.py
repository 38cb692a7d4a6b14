"""Support code shared by the tests, one module per kind of thing (no fixtures here: those stay
in the conftest.py files, built from these pieces).

- `env`: the repository root, the test JWT secret, `require` (skip, or fail in CI).
- `database`: the MariaDB server under test, fresh database names, killing a connection.
- `ports`: free ports, waiting for a port to open, uvicorn on a free port.
- `clients`: an app's in-process client, the bearer header, GraphQL over HTTP.
- `people`: the one test password, cheap password hashing, unique nicknames, REST registration.
- `tokens`: tokens signed with the right secret but forged claims.
- `seed_contract`: what the seed's pages read from the REST API.
- `websocket`: a GraphQL-over-WebSocket client (graphql-transport-ws and legacy graphql-ws).
- `redis`: a private redis-server and a proxy that freezes connections.
- `browser`, `ui`: Chromium for Playwright, artifact folders, and what a person does on the page.
"""
