-- Messages out (docs/messaging.md "Sending"): an outbound message is a `messages` row with
-- direction 'out', written by POST /messages with its WhatsApp id chosen once, then drained in
-- order by the device's lease owner. Inbound rows leave every column below NULL.
--
-- status: queued → sent (the server's ack) → delivered → read (receipts), or failed with a
-- failure_reason (expired, logged_out, no_devices, …). Each status has its time; a receipt that
-- arrives out of order fills its own time and never moves the status back.
-- recipient: the `to` as the client gave it (E.164 or JID); chat holds the JID it resolved to.
-- idempotency_key / request_hash: the same key with the same body answers with the same row, with
-- another body is refused; request_hash is SHA-256 over the normalized body.
-- attempts: how often the drain wrote the stanza (a resend after a crash or reconnect keeps wa_id).
ALTER TABLE messages
    ADD COLUMN status          text CHECK (status IN ('queued', 'sent', 'delivered', 'read', 'failed')),
    ADD COLUMN recipient       text,
    ADD COLUMN queued_at       timestamptz,
    ADD COLUMN acked_at        timestamptz,
    ADD COLUMN delivered_at    timestamptz,
    ADD COLUMN read_at         timestamptz,
    ADD COLUMN failed_at       timestamptz,
    ADD COLUMN failure_reason  text,
    ADD COLUMN idempotency_key text CHECK (length(idempotency_key) <= 255),
    ADD COLUMN request_hash    bytea,
    ADD COLUMN attempts        integer NOT NULL DEFAULT 0,
    ADD CONSTRAINT messages_outbound_status CHECK ((direction = 'out') = (status IS NOT NULL));

-- One answer per (tenant, key).
CREATE UNIQUE INDEX messages_idempotency ON messages (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
-- The drain reads a device's queue in order.
CREATE INDEX messages_outbox ON messages (device_id, seq) WHERE status = 'queued';
-- Acks and receipts find our message by its WhatsApp id.
CREATE INDEX messages_out_wa_id ON messages (device_id, wa_id) WHERE direction = 'out';

-- A device's usync device lists (messaging.md §7): per queried user (a JID without device), the
-- device JIDs, refreshed on `devices` notifications and phash mismatches by deleting the row.
CREATE TABLE device_lists (
    device_id  uuid NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    user_jid   text NOT NULL,
    devices    text[] NOT NULL,
    fetched_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (device_id, user_jid)
);
