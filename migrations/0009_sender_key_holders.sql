-- Group sends (docs/messaging.md "Group sends"): which devices hold our current sender key for a
-- group, so that the next send distributes it (SKDM, pairwise) only to the devices that do not.
-- A row is written when the server accepts the stanza that carried the SKDM to that device; a
-- group's rows are deleted in the transaction that creates or replaces our sender key for it (a
-- member left). Not secret: JIDs only. The member list itself is cached in device_lists under the
-- group JID (its members' user JIDs).
CREATE TABLE sender_key_holders (
    device_id uuid NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    group_jid text NOT NULL,
    holder    text NOT NULL,
    sent_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (device_id, group_jid, holder)
);
