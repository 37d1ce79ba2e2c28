-- Tables the edge reads and the booking worker writes.
--
-- In production the admin app owns this schema and its own migrations create
-- it; this file recreates the same shape for development and tests. Every
-- statement is guarded so the file can be applied again to a database that
-- already has it.

CREATE TABLE IF NOT EXISTS events (
    id bigserial PRIMARY KEY,
    name varchar NOT NULL,
    starts_at timestamp,
    seats_total integer NOT NULL,
    seats_available integer NOT NULL,
    created_at timestamp NOT NULL DEFAULT now(),
    updated_at timestamp NOT NULL DEFAULT now(),
    -- Booking decrements seats_available; the database is the last line that
    -- stops it from overselling or going negative.
    CONSTRAINT events_seats_available_check
        CHECK (seats_available BETWEEN 0 AND seats_total)
);

-- Listing pages walk events by start time, with id as the tie-breaker that
-- makes keyset pagination stable.
CREATE INDEX IF NOT EXISTS index_events_on_starts_at_and_id
    ON events (starts_at, id);

-- The edge creates the id (a UUID) when it accepts a booking, before the
-- worker has seen it, so there is no default here.
CREATE TABLE IF NOT EXISTS bookings (
    id uuid PRIMARY KEY,
    event_id bigint,
    user_ref varchar,
    quantity integer,
    status varchar NOT NULL,
    reason varchar,
    jid varchar,
    enqueued_at timestamp,
    processed_at timestamp,
    created_at timestamp NOT NULL DEFAULT now(),
    updated_at timestamp NOT NULL DEFAULT now(),
    CONSTRAINT bookings_status_check
        CHECK (status IN ('pending', 'confirmed', 'rejected', 'expired'))
);
