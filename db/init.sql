-- MyChat schema for MySQL 8 / MariaDB 10.11. A fresh MySQL container runs this file;
-- tests/test_schema.py loads it into MariaDB and compares it with mychat.tables.
-- utf8mb4_unicode_ci because MariaDB does not know MySQL 8's utf8mb4_0900_ai_ci.
-- Primary keys are unnamed: MySQL and MariaDB always call them PRIMARY.
-- Every foreign key column leads an explicit index, so InnoDB adds none of its own.

CREATE TABLE IF NOT EXISTS users (
    id BIGINT NOT NULL AUTO_INCREMENT,
    login VARCHAR(64) NOT NULL,
    nickname VARCHAR(32) NOT NULL,
    nickname_key VARCHAR(96) COLLATE utf8mb4_bin NOT NULL,
    password_hash VARCHAR(255) NOT NULL,
    created_at DATETIME(6) NOT NULL,
    deleted_at DATETIME(6) NULL,
    PRIMARY KEY (id),
    CONSTRAINT uq_users_login UNIQUE (login),
    CONSTRAINT uq_users_nickname_key UNIQUE (nickname_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS sessions (
    id VARCHAR(32) NOT NULL,
    user_id BIGINT NOT NULL,
    device VARCHAR(120) NOT NULL,
    created_at DATETIME(6) NOT NULL,
    last_used_at DATETIME(6) NOT NULL,
    expires_at DATETIME(6) NOT NULL,
    revoked_at DATETIME(6) NULL,
    PRIMARY KEY (id),
    CONSTRAINT fk_sessions_user_id FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    INDEX ix_sessions_user_id (user_id),
    INDEX ix_sessions_expires_at (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS chats (
    id BIGINT NOT NULL AUTO_INCREMENT,
    name VARCHAR(100) NOT NULL,
    created_by BIGINT NULL,
    created_at DATETIME(6) NOT NULL,
    last_activity_at DATETIME(6) NOT NULL,
    last_message_id BIGINT NULL,
    direct_pair VARCHAR(41) NULL,
    PRIMARY KEY (id),
    CONSTRAINT uq_chats_direct_pair UNIQUE (direct_pair),
    CONSTRAINT fk_chats_created_by FOREIGN KEY (created_by) REFERENCES users (id) ON DELETE SET NULL,
    INDEX ix_chats_last_activity (last_activity_at, id),
    INDEX ix_chats_created_by (created_by)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS chat_members (
    chat_id BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    role VARCHAR(16) NOT NULL,
    joined_at DATETIME(6) NOT NULL,
    last_read_message_id BIGINT NOT NULL,
    PRIMARY KEY (chat_id, user_id),
    CONSTRAINT fk_chat_members_chat_id FOREIGN KEY (chat_id) REFERENCES chats (id) ON DELETE CASCADE,
    CONSTRAINT fk_chat_members_user_id FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    INDEX ix_chat_members_user_id (user_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS messages (
    id BIGINT NOT NULL AUTO_INCREMENT,
    chat_id BIGINT NOT NULL,
    sender_id BIGINT NOT NULL,
    text TEXT NOT NULL,
    client_id VARCHAR(36) NULL,
    created_at DATETIME(6) NOT NULL,
    edited_at DATETIME(6) NULL,
    deleted_at DATETIME(6) NULL,
    reply_to_id BIGINT NULL,
    kind VARCHAR(16) NULL,
    PRIMARY KEY (id),
    CONSTRAINT uq_messages_sender_id_client_id UNIQUE (sender_id, client_id),
    CONSTRAINT fk_messages_chat_id FOREIGN KEY (chat_id) REFERENCES chats (id) ON DELETE CASCADE,
    CONSTRAINT fk_messages_sender_id FOREIGN KEY (sender_id) REFERENCES users (id) ON DELETE CASCADE,
    INDEX ix_messages_chat_id_id (chat_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Message search (chat_service/search.py, mychat/search_words.py): the words of each message
-- someone wrote, tagged with its chat ("c42_deploy c42_friday"), under a FULLTEXT index.
-- Clustered by chat, so that a search reads its matches from a few pages.
CREATE TABLE IF NOT EXISTS message_search (
    chat_id BIGINT NOT NULL,
    message_id BIGINT NOT NULL,
    words TEXT NOT NULL,
    PRIMARY KEY (chat_id, message_id),
    CONSTRAINT uq_message_search_message_id UNIQUE (message_id),
    CONSTRAINT fk_message_search_message_id FOREIGN KEY (message_id) REFERENCES messages (id) ON DELETE CASCADE,
    FULLTEXT INDEX ix_message_search_words (words)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS message_reactions (
    message_id BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    emoji VARCHAR(16) COLLATE utf8mb4_bin NOT NULL,
    created_at DATETIME(6) NOT NULL,
    PRIMARY KEY (message_id, user_id, emoji),
    CONSTRAINT fk_message_reactions_message_id FOREIGN KEY (message_id) REFERENCES messages (id) ON DELETE CASCADE,
    CONSTRAINT fk_message_reactions_user_id FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    INDEX ix_message_reactions_user_id (user_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
