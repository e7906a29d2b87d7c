-- The shop's relational read models, fed from the bus (see src/lib.rs).
--
-- Every read model owns its tables and never reads another's, so that each
-- can be rebuilt alone. Every row records the version of its source
-- aggregate that last wrote it, and `applied_versions` keeps each read
-- model's last applied version of every aggregate it reads: the guard that
-- makes a redelivered or late event change nothing.
--
-- Names, cities, addresses, genres and ticket codes use the "C" collation:
-- ordering is by bytes and `lower` folds ASCII only, exactly as in the
-- embedded mode's SQLite read models, so both answer alike.
--
-- Substring search (concert and venue names, cities, addresses) uses
-- trigram indexes from pg_trgm, a contrib extension that a database owner
-- may create without being a superuser (trusted since PostgreSQL 13).

CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- Where each read model is on each bus partition it is fed from (a shard's
-- last sequence number), written in the transaction of the rows it covers.
CREATE TABLE bus_checkpoints (
    sink  text NOT NULL,
    key   text NOT NULL,
    value text NOT NULL,
    PRIMARY KEY (sink, key)
);

-- Each read model's last applied version of each source aggregate. Kept
-- when the aggregate's rows go (a removed ticket type) and for rows that add
-- up many aggregates (daily sales). `kind` tells which read models read the
-- aggregate, for `PostgresQueries::applied_version`.
CREATE TABLE applied_versions (
    sink         text   NOT NULL,
    aggregate_id uuid   NOT NULL,
    kind         text   NOT NULL CHECK (kind IN ('venue', 'concert', 'order')),
    version      bigint NOT NULL CHECK (version > 0),
    PRIMARY KEY (sink, aggregate_id)
);
CREATE INDEX applied_versions_by_aggregate ON applied_versions (aggregate_id);

-- catalogue: concerts, and its own copy of the venues they are at. The two
-- are joined when read, not copied into each other when written: the bus
-- keeps no order between a venue and its concerts, so either may arrive
-- first, and a concert shows once both have.
CREATE TABLE catalogue (
    concert_id  uuid PRIMARY KEY,
    name        text COLLATE "C" NOT NULL,
    description text,
    genre       text COLLATE "C",
    image_url   text,
    status      text NOT NULL CHECK (status IN ('draft', 'published', 'cancelled')),
    starts_at   timestamptz,
    ends_at     timestamptz,
    venue_id    uuid NOT NULL,
    version     bigint NOT NULL
);
-- Search's order and its date range: published concerts by start, then id.
CREATE INDEX catalogue_by_start ON catalogue (status, starts_at, concert_id);
CREATE INDEX catalogue_by_name ON catalogue USING gin (lower(name) gin_trgm_ops);
CREATE INDEX catalogue_by_genre ON catalogue (lower(genre));
CREATE INDEX catalogue_by_venue ON catalogue (venue_id);

CREATE TABLE catalogue_venues (
    venue_id uuid PRIMARY KEY,
    name     text COLLATE "C" NOT NULL,
    city     text COLLATE "C" NOT NULL,
    address  text COLLATE "C" NOT NULL,
    version  bigint NOT NULL
);
CREATE INDEX catalogue_venues_by_name ON catalogue_venues USING gin (lower(name) gin_trgm_ops);
CREATE INDEX catalogue_venues_by_city ON catalogue_venues USING gin (lower(city) gin_trgm_ops);
CREATE INDEX catalogue_venues_by_address ON catalogue_venues USING gin (lower(address) gin_trgm_ops);

-- venues: as listed and shown; deleted ones stay, marked.
CREATE TABLE venues (
    venue_id    uuid PRIMARY KEY,
    name        text COLLATE "C" NOT NULL,
    address     text NOT NULL,
    city        text NOT NULL,
    capacity    bigint NOT NULL,
    description text,
    web_url     text,
    deleted     boolean NOT NULL,
    version     bigint NOT NULL
);
-- The list's order and its cursor: live venues by name, then id.
CREATE INDEX venues_by_name ON venues (name, venue_id) WHERE NOT deleted;

-- ticket_types: each concert's ticket types with held, sold and available
-- counts. `seq` is the concert's version that added the type: the order
-- they were added, known without a global position.
CREATE TABLE ticket_types (
    ticket_type_id uuid PRIMARY KEY,
    concert_id     uuid   NOT NULL,
    seq            bigint NOT NULL,
    name           text   NOT NULL,
    price_amount   bigint NOT NULL,
    currency       text   NOT NULL,
    quantity       bigint NOT NULL,
    held           bigint NOT NULL,
    sold           bigint NOT NULL,
    available      bigint NOT NULL,
    version        bigint NOT NULL
);
CREATE INDEX ticket_types_by_concert ON ticket_types (concert_id, seq);

-- orders: with their tickets.
CREATE TABLE orders (
    order_id     uuid PRIMARY KEY,
    customer_id  uuid        NOT NULL,
    total_amount bigint      NOT NULL,
    currency     text        NOT NULL,
    placed_at    timestamptz NOT NULL,
    version      bigint      NOT NULL
);
CREATE INDEX orders_by_customer ON orders (customer_id, placed_at DESC, order_id DESC);
CREATE INDEX orders_by_time ON orders (placed_at DESC, order_id DESC);

CREATE TABLE order_tickets (
    order_id       uuid NOT NULL,
    code           text COLLATE "C" NOT NULL,
    seq            bigint NOT NULL,
    concert_id     uuid NOT NULL,
    ticket_type_id uuid NOT NULL,
    checked_in_at  timestamptz,
    version        bigint NOT NULL,
    PRIMARY KEY (order_id, code)
);
CREATE INDEX order_tickets_in_order ON order_tickets (order_id, seq);

-- attendees: ticket holders per concert, for the door. A code issued twice
-- is refused by the primary key: the door must never find two tickets
-- under one code.
CREATE TABLE attendees (
    ticket_code    text COLLATE "C" PRIMARY KEY,
    concert_id     uuid NOT NULL,
    order_id       uuid NOT NULL,
    customer_id    uuid NOT NULL,
    ticket_type_id uuid NOT NULL,
    checked_in_at  timestamptz,
    version        bigint NOT NULL
);
CREATE INDEX attendees_by_concert ON attendees (concert_id, ticket_code);

-- sales: tickets sold and revenue per concert per UTC day of the sale, at
-- the prices paid. Rows add up many orders, so `applied_versions` alone
-- keeps their versions.
CREATE TABLE sales (
    concert_id     uuid   NOT NULL,
    day            date   NOT NULL,
    tickets        bigint NOT NULL,
    revenue_amount bigint NOT NULL,
    currency       text   NOT NULL,
    PRIMARY KEY (concert_id, day)
);
