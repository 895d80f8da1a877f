-- The send log (docs/messaging.md "Sending", docs/chaos.md): one row per write of an outbound
-- message's stanza, committed in the fenced transaction that precedes the write (with the ratchet
-- state it advanced). It says who sent it and under which lease: `instance` and `lease_epoch` are
-- the sender's lease, which the transaction's fence held; `lease_expires_at` the lease's expiry as
-- that transaction read it; `connection` the local address (`ip:port`) of the upstream connection
-- the stanza was written on. A resend after a crash or a reconnect, or for a retry receipt, is a
-- new attempt of the same message. Deleted with the message.
CREATE TABLE message_attempts (
    message_id       uuid NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    attempt          integer NOT NULL,
    instance         text NOT NULL,
    lease_epoch      bigint NOT NULL,
    lease_expires_at timestamptz,
    connection       text,
    committed_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (message_id, attempt)
);
