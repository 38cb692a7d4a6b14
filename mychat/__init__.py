"""MyChat: shared building blocks for the auth, chat and gateway services."""
