-- The edge's database role: it logs in and reads events and bookings, and can
-- do nothing else. Bookings are written by the admin app's worker, never by
-- the edge.
--
-- Roles are cluster-wide while the grants below are per database, and test
-- suites migrate several databases on one cluster at the same time, so the role
-- is created and configured in one guarded step that exactly one migration wins.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'switchyard_edge') THEN
        BEGIN
            -- No password: development and test clusters use local trust auth.
            CREATE ROLE switchyard_edge LOGIN;
            -- Set here, by the migration that created the role, because two
            -- concurrent ALTER ROLE on one role can fail with "tuple
            -- concurrently updated".
            ALTER ROLE switchyard_edge SET default_transaction_read_only = on;
        EXCEPTION
            -- Another database's migration created the role after our check:
            -- duplicate_object when it had committed, unique_violation when we
            -- waited on its uncommitted insert.
            WHEN duplicate_object OR unique_violation THEN
                NULL;
        END;
    END IF;
END
$$;

-- Repairs a role that was made by hand without the settings above. Each change
-- is made only when missing, so repeated and parallel runs change nothing.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles
                   WHERE rolname = 'switchyard_edge' AND rolcanlogin) THEN
        ALTER ROLE switchyard_edge LOGIN;
    END IF;

    IF NOT EXISTS (
        SELECT 1
        FROM pg_db_role_setting s
        JOIN pg_roles r ON r.oid = s.setrole
        WHERE r.rolname = 'switchyard_edge'
          AND s.setdatabase = 0
          AND 'default_transaction_read_only=on' = ANY (s.setconfig)
    ) THEN
        ALTER ROLE switchyard_edge SET default_transaction_read_only = on;
    END IF;
END
$$;

-- GRANT ... ON DATABASE needs the name; this file may be applied to any
-- database, so it is read at run time.
DO $$
BEGIN
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO switchyard_edge',
                   current_database());
END
$$;

-- Only the admin app's own role may create objects here.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

GRANT USAGE ON SCHEMA public TO switchyard_edge;
GRANT SELECT ON TABLE events, bookings TO switchyard_edge;
