-- Messaging: each device's Signal state (sealed like credentials) and the inbox (docs/messaging.md).
-- The receive path writes all of a stanza's rows in one transaction, fenced by the device's lease
-- epoch, before it answers the stanza. A logout deletes the Signal state; messages stay until
-- retention deletes them.

-- A pairwise Signal session per remote device: its address is `name:device` (messaging.md §1.2;
-- name = the JID user, `_1` appended for LIDs). `sealed` is the serialized SessionRecord sealed with
-- AES-256-GCM, associated data = device id + kind `signal-session:<name>:<device>`.
CREATE TABLE signal_sessions (
    device_id  uuid NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    name       text NOT NULL,
    device     integer NOT NULL,
    key_id     text NOT NULL,
    sealed     bytea NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (device_id, name, device)
);

-- The identity key trusted for a remote device (trust on first use), sealed as
-- `signal-identity:<name>:<device>`. `fingerprint` is the first 16 bytes of the key's SHA-256 in
-- hex, kept beside it so changes can be recorded without opening the row.
CREATE TABLE signal_identities (
    device_id     uuid NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    name          text NOT NULL,
    device        integer NOT NULL,
    key_id        text NOT NULL,
    sealed        bytea NOT NULL,
    fingerprint   text NOT NULL,
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (device_id, name, device)
);

-- Every trusted identity that was replaced (a reinstall seen in a pkmsg) or forgotten (an identity
-- notification: new_fingerprint NULL). Fingerprints only, never keys.
CREATE TABLE signal_identity_changes (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    device_id            uuid NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    address              text NOT NULL,
    previous_fingerprint text NOT NULL,
    new_fingerprint      text,
    at                   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX signal_identity_changes_device ON signal_identity_changes (device_id, id);

-- A group member's sender key per (group, sending device), sealed as
-- `signal-sender-key:<group>|<name>:<device>`.
CREATE TABLE signal_sender_keys (
    device_id     uuid NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    group_jid     text NOT NULL,
    sender_name   text NOT NULL,
    sender_device integer NOT NULL,
    key_id        text NOT NULL,
    sealed        bytea NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (device_id, group_jid, sender_name, sender_device)
);
-- Moving a phone number's keys to its LID reads them by sender.
CREATE INDEX signal_sender_keys_sender ON signal_sender_keys (device_id, sender_name);

-- One-time prekeys are derived from the credentials' seed and their id; a consumed one is this row,
-- so each is consumed once, ever (a second insert fails the stanza's transaction).
CREATE TABLE signal_prekeys_used (
    device_id uuid NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    prekey_id integer NOT NULL CHECK (prekey_id BETWEEN 1 AND 16777215),
    used_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (device_id, prekey_id)
);

-- How many one-time prekeys retry receipts handed out (their ids come from a range of their own,
-- OneTimePreKeys.retryIDs), so that none is handed out twice.
CREATE TABLE signal_retry_prekeys (
    device_id uuid PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
    reserved  bigint NOT NULL
);

-- LID ↔ phone number, per account (users only): learned from stanzas, used to key Signal state
-- by LID (messaging.md §1.3).
CREATE TABLE lid_mappings (
    device_id  uuid NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    pn_user    text NOT NULL,
    lid_user   text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (device_id, pn_user)
);
CREATE INDEX lid_mappings_lid ON lid_mappings (device_id, lid_user);

-- The inbox, both directions (issue 12 adds what outbound needs). Tenant data, stored in clear as
-- peers store it: chat and sender are JIDs as received, `raw` the decrypted Message protobuf.
-- A message is stored once: a redelivered stanza finds its row. `seq` orders pages.
CREATE TABLE messages (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    seq         bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    device_id   uuid NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    direction   text NOT NULL CHECK (direction IN ('in', 'out')),
    chat        text NOT NULL,
    sender      text NOT NULL,
    wa_id       text NOT NULL,
    sent_at     timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    type        text NOT NULL,
    text        text,
    raw         bytea NOT NULL,
    from_me     boolean NOT NULL,
    UNIQUE (device_id, direction, chat, sender, wa_id)
);
CREATE INDEX messages_tenant ON messages (tenant_id, seq);
CREATE INDEX messages_tenant_device ON messages (tenant_id, device_id, seq);
-- Retention deletes by age.
CREATE INDEX messages_received ON messages (received_at);
