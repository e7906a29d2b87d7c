-- holds: every live hold with its concert and when it runs out, kept by the
-- ticket_types read model beside the counts it moves. Hold expiry asks it
-- which concerts have run-out holds, instead of replaying the log.
CREATE TABLE holds (
    hold_id    uuid PRIMARY KEY,
    concert_id uuid        NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX holds_by_expiry ON holds (expires_at);
