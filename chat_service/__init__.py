"""chat_service: chats, members and messages; publishes an event after each commit."""
