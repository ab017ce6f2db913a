-- A tenant's own channel settings; a null column falls back to the process-wide setting
-- (REMINDERS_*). The secrets are write-only in the API: never returned, never logged.
CREATE TABLE channel_settings (
    tenant             text PRIMARY KEY,
    mail_from          text,
    webhook_url        text,
    webhook_secret     text,
    sms_url            text,
    sms_token          text,
    send_window_start  time,
    send_window_end    time,
    default_timezone   text,
    updated_at         timestamptz NOT NULL,
    CHECK (webhook_secret IS NULL OR webhook_url IS NOT NULL),
    CHECK (webhook_url IS NULL OR webhook_secret IS NOT NULL),
    CHECK (sms_token IS NULL OR sms_url IS NOT NULL)
);
