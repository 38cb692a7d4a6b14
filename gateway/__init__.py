"""gateway: the Strawberry GraphQL API over auth_service and chat_service."""
