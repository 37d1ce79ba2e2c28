-- Demo and test data. Never apply this to production.
--
-- Fixed ids and fixed 2027 start times keep tests and screenshots stable. The
-- set covers the cases the edge has to get right: a plentiful event, a tiny
-- one (2 seats, for racing bookings against each other) and a sold-out one.

INSERT INTO events (id, name, starts_at, seats_total, seats_available) VALUES
    (1, 'Aurora Skies World Tour: Wembley Stadium, London',
        '2027-05-14 19:30:00', 90000, 1250),
    (2, 'The Midnight Parade: Estadio Azteca, Mexico City',
        '2027-06-05 20:00:00', 87000, 40210),
    (3, 'Neon Harbor Live: Croke Park, Dublin (Soundcheck Pass)',
        '2027-06-26 16:00:00', 2, 2),
    (4, 'Paper Lanterns Reunion Tour: Allianz Arena, Munich',
        '2027-07-17 19:00:00', 75000, 0),
    (5, 'Velvet Thunder Farewell Tour: MetLife Stadium, East Rutherford',
        '2027-08-21 19:30:00', 82500, 82500)
ON CONFLICT (id) DO NOTHING;

-- Explicit ids do not advance the id sequence; move it past every id in use so
-- the next insert without an id does not collide with a seeded row.
SELECT setval(
    pg_get_serial_sequence('events', 'id'),
    GREATEST(5, (SELECT max(id) FROM events))
);
