"""assembly: wires the services together (embedded app, `mychat` command, local topology).

The top of the import graph: it may import auth_service, chat_service, gateway and mychat;
nothing imports it.
"""
