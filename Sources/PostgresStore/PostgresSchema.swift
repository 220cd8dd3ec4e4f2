/// The PostgreSQL schema, as append-only migrations: a released one is never edited, a change is a new one.
/// The tables mirror the SQLite store's (snake_case names, the same meaning); times are seconds since 1970 in
/// `double precision`, as there, so both stores compare leases and due times alike.
enum PostgresSchema {
    struct Migration {
        var version: Int
        var name: String
        var sql: String
    }

    static let migrations: [Migration] = [
        Migration(version: 1, name: "v1-initial", sql: """
            CREATE TABLE document (
                sha256 text PRIMARY KEY,
                format text NOT NULL,
                mime_type text NOT NULL,
                size bigint NOT NULL,
                blob_path text NOT NULL,
                original_name text NOT NULL,
                pages integer,
                ocr_text text,
                ocr_result bytea,
                created_at double precision NOT NULL,
                -- Full-text search over the OCR text: 'simple' keeps every word (receipts mix languages).
                search tsvector GENERATED ALWAYS AS (to_tsvector('simple', coalesce(ocr_text, ''))) STORED
            );
            CREATE INDEX document_search ON document USING gin (search);

            CREATE TABLE job_group (
                id bigserial PRIMARY KEY,
                kind text NOT NULL,
                key text NOT NULL UNIQUE,
                title text NOT NULL,
                chat_id bigint,
                user_id bigint,
                report_path text,
                consolidated_at double precision,
                created_at double precision NOT NULL,
                last_added_at double precision,
                notified_at double precision
            );

            CREATE TABLE job (
                id bigserial PRIMARY KEY,
                code text NOT NULL UNIQUE,
                document_sha256 text NOT NULL REFERENCES document (sha256) ON DELETE RESTRICT,
                origin text NOT NULL,
                source_name text NOT NULL,
                group_id bigint REFERENCES job_group (id) ON DELETE SET NULL,
                chat_id bigint,
                user_id bigint,
                message_id bigint,
                language_code text,
                state text NOT NULL,
                next_attempt_at double precision NOT NULL,
                lease_owner text,
                lease_expires_at double precision,
                lease_token bigint NOT NULL DEFAULT 0,
                last_error text,
                created_at double precision NOT NULL,
                updated_at double precision NOT NULL,
                finished_at double precision,
                source_key text UNIQUE,
                notified_at double precision,
                UNIQUE (group_id, document_sha256)
            );
            -- The claim reads only these two small partial indexes: queued jobs by due time, running ones by lease.
            CREATE INDEX job_due ON job (next_attempt_at, id) WHERE state = 'queued';
            CREATE INDEX job_leased ON job (lease_expires_at) WHERE state = 'running';
            CREATE INDEX job_group_state ON job (group_id, state);
            CREATE INDEX job_document ON job (document_sha256);
            CREATE INDEX job_chat ON job (chat_id, created_at);
            CREATE INDEX job_unnotified ON job (id) WHERE notified_at IS NULL AND chat_id IS NOT NULL;

            CREATE TABLE step (
                id bigserial PRIMARY KEY,
                job_id bigint NOT NULL REFERENCES job (id) ON DELETE CASCADE,
                position integer NOT NULL,
                plugin text NOT NULL,
                state text NOT NULL,
                attempts integer NOT NULL DEFAULT 0,
                output bytea,
                error text,
                started_at double precision,
                finished_at double precision,
                duration_milliseconds double precision,
                input_tokens bigint NOT NULL DEFAULT 0,
                output_tokens bigint NOT NULL DEFAULT 0,
                cost_usd double precision NOT NULL DEFAULT 0,
                model text,
                UNIQUE (job_id, plugin)
            );

            -- Every execution of a step, so "ran exactly once" can be checked after a crash.
            CREATE TABLE step_run (
                id bigserial PRIMARY KEY,
                job_id bigint NOT NULL REFERENCES job (id) ON DELETE CASCADE,
                plugin text NOT NULL,
                attempt integer NOT NULL,
                owner text NOT NULL,
                outcome text NOT NULL,
                started_at double precision NOT NULL,
                finished_at double precision
            );
            CREATE INDEX step_run_job ON step_run (job_id, plugin);

            CREATE TABLE app_user (
                id bigint PRIMARY KEY,
                role text NOT NULL,
                added_by bigint,
                created_at double precision NOT NULL
            );

            -- Replies waiting to be sent, written in the transaction of the state they report.
            CREATE TABLE outbox (
                id bigserial PRIMARY KEY,
                chat_id bigint NOT NULL,
                kind text NOT NULL,
                payload bytea NOT NULL,
                dedupe_key text NOT NULL UNIQUE,
                state text NOT NULL,
                attempts integer NOT NULL DEFAULT 0,
                next_attempt_at double precision NOT NULL,
                last_error text,
                created_at double precision NOT NULL,
                sent_at double precision,
                -- When a sender claimed it: a claim older than any send is one a dead gateway left.
                sending_at double precision
            );
            CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
            CREATE INDEX outbox_chat ON outbox (state, chat_id, id);

            CREATE TABLE stranger_reply (
                user_id bigint PRIMARY KEY,
                replied_at double precision NOT NULL
            );

            CREATE TABLE telegram_update (
                update_id bigint PRIMARY KEY,
                payload bytea NOT NULL,
                state text NOT NULL,
                received_at double precision NOT NULL,
                processed_at double precision,
                error text,
                chat_id bigint,
                attempts integer NOT NULL DEFAULT 0,
                next_attempt_at double precision NOT NULL DEFAULT 0
            );
            CREATE INDEX telegram_update_chat ON telegram_update (state, chat_id, update_id);

            CREATE TABLE llm_usage (
                id bigserial PRIMARY KEY,
                purpose text NOT NULL,
                group_id bigint REFERENCES job_group (id) ON DELETE SET NULL,
                model text,
                input_tokens bigint NOT NULL,
                output_tokens bigint NOT NULL,
                cost_usd double precision NOT NULL,
                created_at double precision NOT NULL
            );
            """),
        Migration(version: 2, name: "v2-http-api", sql: """
            ALTER TABLE job ADD COLUMN token_id bigint;
            ALTER TABLE job ADD COLUMN callback_url text;
            -- When the job's completion callback was queued (cleared when a failed job is retried).
            ALTER TABLE job ADD COLUMN callback_queued_at double precision;
            CREATE INDEX job_token ON job (token_id, id);
            CREATE INDEX job_token_created ON job (token_id, created_at);
            CREATE INDEX job_callback_due ON job (id) WHERE callback_url IS NOT NULL AND callback_queued_at IS NULL;

            CREATE TABLE api_token (
                id bigserial PRIMARY KEY,
                name text NOT NULL,
                token_hash text NOT NULL UNIQUE,
                hint text NOT NULL,
                scopes text NOT NULL,
                rate_limit double precision,
                daily_quota integer,
                created_at double precision NOT NULL,
                revoked_at double precision,
                last_used_at double precision
            );
            CREATE UNIQUE INDEX api_token_live_name ON api_token (name) WHERE revoked_at IS NULL;

            CREATE TABLE callback (
                id bigserial PRIMARY KEY,
                event_id text NOT NULL UNIQUE,
                event text NOT NULL,
                job_id bigint,
                job_code text,
                group_id bigint,
                token_id bigint,
                url text NOT NULL,
                payload bytea,
                state text NOT NULL,
                attempts integer NOT NULL DEFAULT 0,
                next_attempt_at double precision NOT NULL,
                last_error text,
                created_at double precision NOT NULL,
                sending_at double precision,
                delivered_at double precision
            );
            CREATE INDEX callback_due ON callback (state, next_attempt_at);
            """),
        Migration(version: 3, name: "v3-dashboard", sql: """
            -- Single-use sign-in links for the dashboard; only their hash is kept.
            CREATE TABLE sign_in_link (
                token_hash text PRIMARY KEY,
                user_id bigint NOT NULL,
                created_at double precision NOT NULL,
                expires_at double precision NOT NULL,
                used_at double precision
            );
            -- One row: the pipeline's pause switch.
            CREATE TABLE pipeline_control (
                id integer PRIMARY KEY CHECK (id = 1),
                paused boolean NOT NULL DEFAULT false,
                changed_by bigint,
                changed_at double precision
            );
            INSERT INTO pipeline_control (id, paused) VALUES (1, false);
            -- The dashboard's filtered pages (newest first) and its charts, in indexes.
            CREATE INDEX job_state_id ON job (state, id);
            CREATE INDEX job_origin_id ON job (origin, id);
            CREATE INDEX job_user_id ON job (user_id, id);
            CREATE INDEX job_created ON job (created_at);
            CREATE INDEX job_finished ON job (finished_at);
            """),
        Migration(version: 4, name: "v4-ask", sql: """
            -- Whose question an LLM call outside a job answered.
            ALTER TABLE llm_usage ADD COLUMN user_id bigint;
            -- `/ask` questions per user and UTC day (`day`: its midnight), for ASK_DAILY_LIMIT (the questions themselves are not kept).
            CREATE TABLE ask_quota (
                user_id bigint NOT NULL,
                day bigint NOT NULL,
                count integer NOT NULL,
                PRIMARY KEY (user_id, day)
            );
            """),
        Migration(version: 5, name: "v5-chat-settings", sql: """
            -- What a chat chose for itself (`/pdf on`).
            CREATE TABLE chat_setting (
                chat_id bigint PRIMARY KEY,
                attach_searchable_pdf boolean NOT NULL DEFAULT false,
                changed_by bigint,
                changed_at double precision
            );
            """),
        Migration(version: 6, name: "v6-page-sets", sql: """
            -- How a chat's albums become documents (`/albums`); NULL: auto.
            ALTER TABLE chat_setting ADD COLUMN album_mode text;
            -- Photos waiting to become documents: an album until it is quiet, the pages sent after `/merge`.
            CREATE TABLE page_set (
                id bigserial PRIMARY KEY,
                key text NOT NULL UNIQUE,
                kind text NOT NULL,
                chat_id bigint NOT NULL,
                user_id bigint NOT NULL,
                message_id bigint,
                language_code text,
                mode text NOT NULL,
                created_at double precision NOT NULL,
                last_added_at double precision NOT NULL,
                closed_at double precision,
                claimed_until double precision
            );
            CREATE INDEX page_set_open ON page_set (chat_id, user_id, kind, closed_at);
            CREATE TABLE page_set_item (
                id bigserial PRIMARY KEY,
                set_id bigint NOT NULL REFERENCES page_set (id) ON DELETE CASCADE,
                source_key text NOT NULL UNIQUE,
                message_id bigint,
                sha256 text NOT NULL,
                format text NOT NULL,
                mime_type text NOT NULL,
                size bigint NOT NULL,
                blob_path text NOT NULL,
                original_name text NOT NULL,
                added_at double precision NOT NULL
            );
            CREATE INDEX page_set_item_set ON page_set_item (set_id);
            """),
        Migration(version: 7, name: "v7-api-usage", sql: """
            -- Each token's jobs per UTC day, raised as they are made: its quota read in one lookup.
            CREATE TABLE api_usage (
                token_id bigint NOT NULL REFERENCES api_token (id) ON DELETE CASCADE,
                day bigint NOT NULL,
                documents bigint NOT NULL,
                PRIMARY KEY (token_id, day)
            );
            INSERT INTO api_usage (token_id, day, documents)
            SELECT token_id, floor(created_at / 86400)::bigint, COUNT(*) FROM job WHERE token_id IS NOT NULL GROUP BY 1, 2;
            """),
    ]
}
