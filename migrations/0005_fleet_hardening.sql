-- Settings every instance of the fleet reads. Today one: `client_version`, the WhatsApp Web
-- version new connections announce (docs/operations.md, "The WhatsApp Web version"). `source`
-- says who stored it: configuration, check (read from upstream.version_url) or admin.
CREATE TABLE settings (
    name       text PRIMARY KEY,
    value      text NOT NULL,
    source     text NOT NULL CHECK (source IN ('configuration', 'check', 'admin')),
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by text NOT NULL
);
