-- autoctl monitor SQL API, version 1: pg_auto_failover 2.x signatures.
-- Keepers (role autoctl_node) call these functions; they run as the database owner (SECURITY
-- DEFINER) so that autoctl_node itself can read the tables but never write them.
-- node_active stores a report and returns the node's current assignment; the monitor service is
-- notified (channel autoctl_report) and decides. Operator functions record a request (channel
-- autoctl_request) that the monitor service carries out.

-- The monitor service holds this session advisory lock while it is the active one.
CREATE FUNCTION pgautofailover.monitor_service_is_running()
RETURNS bool LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
    SELECT EXISTS (SELECT 1 FROM pg_locks
                    WHERE locktype = 'advisory' AND granted
                      AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                      AND classid = 4242 AND objid = 1 AND objsubid = 2);
$$;

-- The JSON payload of a "state" notification, as pg_auto_failover sends it.
CREATE FUNCTION pgautofailover.state_payload(n pgautofailover.node)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT format('{"type": "state", "formation": %s, "groupId": %s, "nodeId": %s, "name": %s, '
                  '"host": %s, "port": %s, "reportedState": "%s", "goalState": "%s", "health":"%s"}',
                  to_json(n.formationid)::text, n.groupid, n.nodeid, to_json(n.nodename)::text,
                  to_json(n.nodehost)::text, n.nodeport, n.reportedstate, n.goalstate,
                  CASE n.health WHEN 1 THEN 'good' WHEN 0 THEN 'bad' ELSE 'unknown' END);
$$;

-- Inserts an event from the node's current row and sends the "state" notification.
CREATE FUNCTION pgautofailover.record_event(node_id bigint, description text)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
DECLARE
    n pgautofailover.node;
BEGIN
    SELECT * INTO n FROM pgautofailover.node WHERE nodeid = node_id;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    INSERT INTO pgautofailover.event (formationid, nodeid, groupid, nodename, nodehost, nodeport,
                                      reportedstate, goalstate, reportedrepstate, reportedtli,
                                      reportedlsn, candidatepriority, replicationquorum, description)
         VALUES (n.formationid, n.nodeid, n.groupid, n.nodename, n.nodehost, n.nodeport,
                 n.reportedstate, n.goalstate, n.reportedrepstate, n.reportedtli, n.reportedlsn,
                 n.candidatepriority, n.replicationquorum, description);
    PERFORM pg_notify('state', pgautofailover.state_payload(n));
END;
$$;

CREATE FUNCTION pgautofailover.node_description(n pgautofailover.node)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT format('node %s "%s" (%s:%s)', n.nodeid, n.nodename, n.nodehost, n.nodeport);
$$;

CREATE FUNCTION pgautofailover.node_active(
    IN formation_id text,
    IN node_id bigint,
    IN group_id int,
    IN current_group_role pgautofailover.replication_state DEFAULT 'init',
    IN current_pg_is_running bool DEFAULT true,
    IN current_tli int DEFAULT 1,
    IN current_lsn pg_lsn DEFAULT '0/0',
    IN current_rep_state text DEFAULT '',
    OUT assigned_node_id bigint,
    OUT assigned_group_id int,
    OUT assigned_group_state pgautofailover.replication_state,
    OUT assigned_candidate_priority int,
    OUT assigned_replication_quorum bool)
RETURNS record LANGUAGE plpgsql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
DECLARE
    n pgautofailover.node;
    state_changed bool;
BEGIN
    SELECT * INTO n FROM pgautofailover.node WHERE nodeid = node_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'couldn''t find node with nodeid %', node_id USING ERRCODE = 'undefined_object';
    END IF;
    IF n.formationid <> formation_id THEN
        RAISE EXCEPTION 'node % does not belong to formation %', node_id, formation_id
              USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    state_changed := n.reportedstate <> current_group_role;
    UPDATE pgautofailover.node
       SET reportedstate = current_group_role,
           reporttime = now(),
           reportedpgisrunning = current_pg_is_running,
           reportedrepstate = current_rep_state,
           reportedtli = CASE WHEN current_tli = 0 THEN reportedtli ELSE current_tli END,
           reportedlsn = CASE WHEN current_lsn = '0/0' THEN reportedlsn ELSE current_lsn END,
           walreporttime = CASE WHEN current_lsn = '0/0' THEN walreporttime ELSE now() END,
           statechangetime = CASE WHEN state_changed THEN now() ELSE statechangetime END
     WHERE nodeid = node_id;
    IF state_changed THEN
        PERFORM pgautofailover.record_event(node_id,
            format('New state is reported by %s: "%s"', pgautofailover.node_description(n),
                   current_group_role));
    END IF;
    PERFORM pg_notify('autoctl_report',
                      json_build_object('formation', n.formationid, 'group', n.groupid,
                                        'node', n.nodeid)::text);
    assigned_node_id := n.nodeid;
    assigned_group_id := n.groupid;
    assigned_group_state := n.goalstate;
    assigned_candidate_priority := n.candidatepriority;
    assigned_replication_quorum := n.replicationquorum;
END;
$$;

-- Registration (reference §2.7): group assignment, initial goal and name. The monitor service is
-- notified and runs the state machine for the group right after the insert commits.
CREATE FUNCTION pgautofailover.register_node(
    IN formation_id text,
    IN node_host text,
    IN node_port int,
    IN dbname name,
    IN node_name text DEFAULT '',
    IN sysidentifier bigint DEFAULT 0,
    IN desired_node_id bigint DEFAULT -1,
    IN desired_group_id int DEFAULT -1,
    IN initial_group_role pgautofailover.replication_state DEFAULT 'init',
    IN node_kind text DEFAULT 'standalone',
    IN candidate_priority int DEFAULT 100,
    IN replication_quorum bool DEFAULT true,
    IN node_cluster text DEFAULT 'default',
    OUT assigned_node_id bigint,
    OUT assigned_group_id int,
    OUT assigned_group_state pgautofailover.replication_state,
    OUT assigned_candidate_priority int,
    OUT assigned_replication_quorum bool,
    OUT assigned_node_name text)
RETURNS record LANGUAGE plpgsql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
DECLARE
    f pgautofailover.formation;
    wanted_kind text := CASE WHEN node_kind = 'standalone' THEN 'pgsql' ELSE 'citus' END;
    formation_nodes int;
    group_id int := desired_group_id;
    members int;
    goal pgautofailover.replication_state;
    new_id bigint;
    new_name text := node_name;
    quorum_standbys int;
    n pgautofailover.node;
BEGIN
    IF node_kind NOT IN ('standalone', 'coordinator', 'worker') THEN
        RAISE EXCEPTION 'unknown node kind "%"', node_kind USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF candidate_priority < 0 OR candidate_priority > 100 THEN
        RAISE EXCEPTION 'candidate priority % is out of range', candidate_priority
              USING ERRCODE = 'invalid_parameter_value', HINT = 'use a value between 0 and 100';
    END IF;
    -- One registration at a time per formation.
    PERFORM pg_advisory_xact_lock(4243, hashtext(formation_id));
    SELECT * INTO f FROM pgautofailover.formation WHERE formationid = formation_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'formation "%" does not exist', formation_id USING ERRCODE = 'undefined_object',
              HINT = 'create it with autoctl create formation';
    END IF;
    SELECT count(*) INTO formation_nodes FROM pgautofailover.node
     WHERE formationid = formation_id AND goalstate <> 'dropped';
    IF f.kind <> wanted_kind THEN
        IF formation_nodes > 0 THEN
            RAISE EXCEPTION 'formation "%" is of kind %, a % node can not join it', formation_id, f.kind, node_kind
                  USING ERRCODE = 'object_not_in_prerequisite_state';
        END IF;
        UPDATE pgautofailover.formation SET kind = wanted_kind WHERE formationid = formation_id;
        f.kind := wanted_kind;
    END IF;
    IF f.dbname <> dbname THEN
        IF formation_nodes > 0 THEN
            RAISE EXCEPTION 'formation "%" uses database "%", not "%"', formation_id, f.dbname, dbname
                  USING ERRCODE = 'object_not_in_prerequisite_state', HINT = format('use --dbname %s', f.dbname);
        END IF;
        UPDATE pgautofailover.formation SET dbname = register_node.dbname WHERE formationid = formation_id;
    END IF;
    SELECT * INTO n FROM pgautofailover.node WHERE nodehost = node_host AND nodeport = node_port;
    IF FOUND THEN
        RAISE EXCEPTION 'a node is already registered at %:% (%)', node_host, node_port,
              pgautofailover.node_description(n)
              USING ERRCODE = 'unique_violation', HINT = 'drop that node first, or use another --hostname or --pgport';
    END IF;
    IF node_name <> '' AND EXISTS (SELECT 1 FROM pgautofailover.node
                                     WHERE formationid = formation_id AND nodename = node_name) THEN
        RAISE EXCEPTION 'node name "%" is already used in formation "%"', node_name, formation_id
              USING ERRCODE = 'unique_violation', HINT = 'choose another --name';
    END IF;

    IF f.kind = 'pgsql' THEN
        IF group_id > 0 THEN
            RAISE EXCEPTION 'group % does not exist in formation "%": a pgsql formation has only group 0',
                  group_id, formation_id USING ERRCODE = 'invalid_parameter_value', HINT = 'omit --group';
        END IF;
        group_id := 0;
    ELSIF group_id < 0 THEN
        IF node_kind = 'coordinator' THEN
            group_id := 0;
        ELSE
            -- The first group without nodes, or the first with only its primary.
            group_id := 1;
            LOOP
                SELECT count(*) INTO members FROM pgautofailover.node
                 WHERE formationid = formation_id AND groupid = group_id AND goalstate <> 'dropped';
                EXIT WHEN members = 0 OR (members = 1 AND f.opt_secondary);
                group_id := group_id + 1;
            END LOOP;
        END IF;
    ELSIF node_kind = 'worker' AND group_id = 0 THEN
        RAISE EXCEPTION 'group 0 is the coordinator''s group: a worker can not join it'
              USING ERRCODE = 'invalid_parameter_value', HINT = 'use --group 1 or above';
    END IF;
    PERFORM pg_advisory_xact_lock(4244, hashtext(formation_id || '/' || group_id));

    SELECT count(*) INTO members FROM pgautofailover.node
     WHERE formationid = formation_id AND groupid = group_id AND goalstate <> 'dropped';
    IF members = 0 AND candidate_priority > 0 THEN
        goal := 'single';
    ELSIF NOT f.opt_secondary THEN
        RAISE EXCEPTION 'formation "%" does not allow secondary nodes', formation_id
              USING ERRCODE = 'object_not_in_prerequisite_state';
    ELSIF EXISTS (SELECT 1 FROM pgautofailover.node
                   WHERE formationid = formation_id AND groupid = group_id AND goalstate <> 'dropped'
                     AND (goalstate IN ('single', 'primary', 'wait_primary', 'join_primary', 'apply_settings')
                          OR (reportedstate, goalstate) IN
                             (('report_lsn', 'fast_forward'), ('report_lsn', 'prepare_promotion'),
                              ('fast_forward', 'fast_forward'), ('fast_forward', 'prepare_promotion'),
                              ('prepare_promotion', 'prepare_promotion'), ('prepare_promotion', 'stop_replication'),
                              ('prepare_promotion', 'wait_primary'), ('stop_replication', 'stop_replication'),
                              ('stop_replication', 'wait_primary')))) THEN
        goal := 'wait_standby';
    ELSIF EXISTS (SELECT 1 FROM pgautofailover.node
                   WHERE formationid = formation_id AND groupid = group_id AND goalstate <> 'dropped'
                     AND candidatepriority = 0 AND reportedstate = 'report_lsn' AND goalstate = 'report_lsn') THEN
        goal := 'report_lsn';
    ELSE
        RAISE EXCEPTION 'couldn''t find the primary node in formation "%", group %', formation_id, group_id
              USING ERRCODE = 'object_in_use', HINT = 'Retry registering in a moment';
    END IF;
    IF initial_group_role <> 'init' AND initial_group_role <> goal THEN
        RAISE EXCEPTION 'node can not be registered in state %, it should be in state %', initial_group_role, goal
              USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;

    IF desired_node_id > 0 THEN
        new_id := desired_node_id;
    ELSE
        new_id := nextval('pgautofailover.node_nodeid_seq');
    END IF;
    IF new_name = '' THEN
        IF f.kind = 'pgsql' THEN
            new_name := 'node_' || new_id;
        ELSE
            SELECT CASE WHEN group_id = 0 THEN 'coord' ELSE 'worker' END || group_id || chr(ascii('a') + count(*)::int)
              INTO new_name
              FROM pgautofailover.node WHERE formationid = formation_id AND groupid = group_id;
        END IF;
    END IF;
    INSERT INTO pgautofailover.node (formationid, nodeid, groupid, nodename, nodehost, nodeport, sysidentifier,
                                     goalstate, reportedstate, candidatepriority, replicationquorum, nodecluster)
         VALUES (formation_id, new_id, group_id, new_name, node_host, node_port,
                 NULLIF(sysidentifier, 0), goal, initial_group_role, candidate_priority, replication_quorum,
                 node_cluster);
    IF desired_node_id > 0 THEN
        PERFORM setval('pgautofailover.node_nodeid_seq', (SELECT max(nodeid) FROM pgautofailover.node));
    END IF;

    -- A primary with two quorum standbys can keep one of them synchronous at all times.
    IF goal = 'wait_standby' AND f.number_sync_standbys = 0 THEN
        SELECT count(*) INTO quorum_standbys FROM pgautofailover.node
         WHERE formationid = formation_id AND groupid = group_id AND goalstate <> 'dropped'
           AND replicationquorum
           AND goalstate NOT IN ('single', 'primary', 'wait_primary', 'join_primary', 'apply_settings');
        IF quorum_standbys = 2 THEN
            UPDATE pgautofailover.formation SET number_sync_standbys = 1 WHERE formationid = formation_id;
            PERFORM pg_notify('log', format('Setting number_sync_standbys to 1 for formation "%s" now that it has two quorum standbys', formation_id));
        END IF;
    END IF;

    SELECT * INTO n FROM pgautofailover.node WHERE nodeid = new_id;
    PERFORM pg_notify('log', format('Registering %s to formation "%s" with replication quorum %s and candidate priority %s',
                                    pgautofailover.node_description(n), formation_id, replication_quorum, candidate_priority));
    PERFORM pgautofailover.record_event(new_id,
        format('Setting goal state of %s to %s after it registered.', pgautofailover.node_description(n), goal));
    PERFORM pg_notify('autoctl_report', json_build_object('formation', formation_id, 'group', group_id, 'node', new_id)::text);

    assigned_node_id := new_id;
    assigned_group_id := group_id;
    assigned_group_state := goal;
    assigned_candidate_priority := candidate_priority;
    assigned_replication_quorum := replication_quorum;
    assigned_node_name := new_name;
END;
$$;
