-- autoctl monitor schema, version 1.
-- Tables, columns and constraints are pg_auto_failover 2.x's, so that operators' queries keep
-- working. Decisions are not taken here: the monitor service (C++) runs the state machine when it
-- is notified of a report or a request, and writes goal states and events.
-- Applied by `autoctl create monitor` (and upgraded by the monitor service) as the database owner.

CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE SCHEMA pgautofailover;

CREATE TABLE pgautofailover.schema_version (
    version     int NOT NULL PRIMARY KEY,
    installed   timestamptz NOT NULL DEFAULT now(),
    description text NOT NULL
);

CREATE TYPE pgautofailover.replication_state AS ENUM (
    'unknown', 'init', 'single', 'wait_primary', 'primary', 'draining', 'demote_timeout', 'demoted',
    'catchingup', 'secondary', 'prepare_promotion', 'stop_replication', 'wait_standby', 'maintenance',
    'join_primary', 'apply_settings', 'prepare_maintenance', 'wait_maintenance', 'report_lsn',
    'fast_forward', 'join_secondary', 'dropped');

CREATE TABLE pgautofailover.formation (
    formationid          text NOT NULL DEFAULT 'default',
    kind                 text NOT NULL DEFAULT 'pgsql',
    dbname               name NOT NULL DEFAULT 'postgres',
    opt_secondary        bool NOT NULL DEFAULT true,
    number_sync_standbys int NOT NULL DEFAULT 0,
    PRIMARY KEY (formationid),
    CHECK (kind IN ('pgsql', 'citus'))
);
INSERT INTO pgautofailover.formation (formationid) VALUES ('default');

CREATE TABLE pgautofailover.node (
    formationid         text NOT NULL DEFAULT 'default',
    nodeid              bigserial,
    groupid             int NOT NULL,
    nodename            text NOT NULL,
    nodehost            text NOT NULL,
    nodeport            int NOT NULL,
    sysidentifier       bigint,
    goalstate           pgautofailover.replication_state NOT NULL DEFAULT 'init',
    reportedstate       pgautofailover.replication_state NOT NULL,
    reportedpgisrunning bool DEFAULT true,
    reportedrepstate    text DEFAULT 'async',
    reporttime          timestamptz NOT NULL DEFAULT now(),
    reportedtli         int NOT NULL DEFAULT 1 CHECK (reportedtli > 0),
    reportedlsn         pg_lsn NOT NULL DEFAULT '0/0',
    walreporttime       timestamptz NOT NULL DEFAULT now(),
    health              integer NOT NULL DEFAULT -1,
    healthchecktime     timestamptz NOT NULL DEFAULT now(),
    statechangetime     timestamptz NOT NULL DEFAULT now(),
    candidatepriority   int NOT NULL DEFAULT 100,
    replicationquorum   bool NOT NULL DEFAULT true,
    nodecluster         text NOT NULL DEFAULT 'default',
    UNIQUE (nodehost, nodeport),
    UNIQUE (formationid, nodename),
    PRIMARY KEY (nodeid),
    FOREIGN KEY (formationid) REFERENCES pgautofailover.formation (formationid),
    CONSTRAINT system_identifier_is_null_at_init_only CHECK (
        (sysidentifier IS NULL AND reportedstate IN ('init', 'wait_standby', 'catchingup', 'dropped'))
        OR sysidentifier IS NOT NULL),
    CONSTRAINT same_system_identifier_within_group EXCLUDE USING gist (
        formationid WITH =, groupid WITH =, sysidentifier WITH <>) DEFERRABLE INITIALLY DEFERRED
) WITH (fillfactor = 25);

CREATE TABLE pgautofailover.event (
    eventid           bigserial NOT NULL,
    eventtime         timestamptz NOT NULL DEFAULT now(),
    formationid       text NOT NULL,
    nodeid            bigint NOT NULL,
    groupid           int NOT NULL,
    nodename          text NOT NULL,
    nodehost          text NOT NULL,
    nodeport          integer NOT NULL,
    reportedstate     pgautofailover.replication_state NOT NULL,
    goalstate         pgautofailover.replication_state NOT NULL,
    reportedrepstate  text,
    reportedtli       int NOT NULL DEFAULT 1 CHECK (reportedtli > 0),
    reportedlsn       pg_lsn NOT NULL DEFAULT '0/0',
    candidatepriority int,
    replicationquorum bool,
    description       text,
    PRIMARY KEY (eventid)
);

-- Operator requests, carried out by the monitor service (design.md §1). A request is pending
-- until the service marks it done or refused, with the message the operator sees.
CREATE TABLE pgautofailover.request (
    requestid   bigserial PRIMARY KEY,
    requested   timestamptz NOT NULL DEFAULT now(),
    formationid text NOT NULL,
    groupid     int,
    nodeid      bigint,
    kind        text NOT NULL CHECK (kind IN ('failover', 'promotion', 'start_maintenance',
                    'stop_maintenance', 'candidate_priority', 'replication_quorum',
                    'number_sync_standbys', 'remove_node')),
    arguments   jsonb NOT NULL DEFAULT '{}',
    status      text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'refused')),
    message     text,
    finished    timestamptz
);
CREATE INDEX request_pending ON pgautofailover.request (requestid) WHERE status = 'pending';

INSERT INTO pgautofailover.schema_version (version, description)
     VALUES (1, 'pg_auto_failover 2.x tables, operator requests');
