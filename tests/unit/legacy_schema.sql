-- The schema SQLModel's create_all made before migrations (commit 292002b), frozen: tests/unit/test_migrations.py
-- builds a database file "made by today's code" from it.
CREATE TABLE conversation (
	id VARCHAR NOT NULL,
	owner VARCHAR NOT NULL,
	title VARCHAR NOT NULL,
	created_at DATETIME NOT NULL,
	updated_at DATETIME NOT NULL,
	PRIMARY KEY (id)
);
CREATE INDEX ix_conversation_owner ON conversation (owner);
CREATE INDEX ix_conversation_updated_at ON conversation (updated_at);
CREATE TABLE api_key (
	id INTEGER NOT NULL,
	owner VARCHAR NOT NULL,
	name VARCHAR NOT NULL,
	key_hash VARCHAR NOT NULL,
	prefix VARCHAR NOT NULL,
	created_at DATETIME NOT NULL,
	last_used_at DATETIME,
	revoked BOOLEAN NOT NULL,
	PRIMARY KEY (id)
);
CREATE INDEX ix_api_key_owner ON api_key (owner);
CREATE UNIQUE INDEX ix_api_key_key_hash ON api_key (key_hash);
CREATE TABLE message (
	id INTEGER NOT NULL,
	conversation_id VARCHAR NOT NULL,
	owner VARCHAR NOT NULL,
	role VARCHAR NOT NULL,
	content VARCHAR NOT NULL,
	status VARCHAR NOT NULL,
	reply_to INTEGER,
	model VARCHAR NOT NULL,
	finish_reason VARCHAR NOT NULL,
	error VARCHAR NOT NULL,
	prompt_tokens INTEGER,
	completion_tokens INTEGER,
	ttft_ms INTEGER,
	created_at DATETIME NOT NULL,
	updated_at DATETIME NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(conversation_id) REFERENCES conversation (id)
);
CREATE INDEX ix_message_owner ON message (owner);
CREATE INDEX ix_message_reply_to ON message (reply_to);
CREATE INDEX ix_message_conversation_id ON message (conversation_id);
CREATE TABLE rendered_answer (
	message_id INTEGER NOT NULL,
	owner VARCHAR NOT NULL,
	renderer VARCHAR NOT NULL,
	digest VARCHAR NOT NULL,
	html VARCHAR NOT NULL,
	PRIMARY KEY (message_id),
	FOREIGN KEY(message_id) REFERENCES message (id) ON DELETE CASCADE
);
CREATE INDEX ix_rendered_answer_owner ON rendered_answer (owner);
