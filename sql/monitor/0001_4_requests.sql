-- autoctl monitor SQL API, version 1: operator requests.
-- Each function records a request for the monitor service, which validates it against the state
-- machine and carries it out at once, then notifies channel autoctl_request_done with
-- {"request": id, "status": "done"|"refused", "message": ...}. The CLI listens before submitting.

CREATE FUNCTION pgautofailover.submit_request(
    kind text, formation_id text, group_id int, node_id bigint, arguments jsonb DEFAULT '{}')
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
DECLARE
    id bigint;
BEGIN
    IF NOT pgautofailover.monitor_service_is_running() THEN
        RAISE EXCEPTION 'no autoctl monitor service is running for this monitor database'
              USING ERRCODE = 'object_not_in_prerequisite_state',
                    HINT = 'start it with `autoctl run --pgdata <monitor pgdata>` on the monitor host';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pgautofailover.formation f WHERE f.formationid = formation_id) THEN
        RAISE EXCEPTION 'formation "%" does not exist', formation_id USING ERRCODE = 'undefined_object';
    END IF;
    INSERT INTO pgautofailover.request (formationid, groupid, nodeid, kind, arguments)
         VALUES (formation_id, group_id, node_id, kind, coalesce(arguments, '{}'))
      RETURNING requestid INTO id;
    PERFORM pg_notify('autoctl_request', id::text);
    RETURN id;
END;
$$;

CREATE FUNCTION pgautofailover.node_by_name(formation_id text, node_name text)
RETURNS pgautofailover.node LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
DECLARE
    n pgautofailover.node;
BEGIN
    SELECT * INTO n FROM pgautofailover.node WHERE formationid = formation_id AND nodename = node_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'node "%" is not a member of formation "%"', node_name, formation_id
              USING ERRCODE = 'undefined_object';
    END IF;
    RETURN n;
END;
$$;

CREATE FUNCTION pgautofailover.node_by_id(node_id bigint)
RETURNS pgautofailover.node LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
DECLARE
    n pgautofailover.node;
BEGIN
    SELECT * INTO n FROM pgautofailover.node WHERE nodeid = node_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'couldn''t find node with nodeid %', node_id USING ERRCODE = 'undefined_object';
    END IF;
    RETURN n;
END;
$$;

CREATE FUNCTION pgautofailover.perform_failover(formation_id text DEFAULT 'default', group_id int DEFAULT 0)
RETURNS void LANGUAGE sql SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
    SELECT NULL::void FROM (SELECT pgautofailover.submit_request('failover', formation_id, group_id, NULL)) r;
$$;

CREATE FUNCTION pgautofailover.perform_promotion(formation_id text, node_name text)
RETURNS bool LANGUAGE plpgsql SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
DECLARE
    n pgautofailover.node := pgautofailover.node_by_name(formation_id, node_name);
BEGIN
    PERFORM pgautofailover.submit_request('promotion', formation_id, n.groupid, n.nodeid);
    RETURN true;
END;
$$;

CREATE FUNCTION pgautofailover.start_maintenance(node_id bigint)
RETURNS bool LANGUAGE plpgsql SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
DECLARE
    n pgautofailover.node := pgautofailover.node_by_id(node_id);
BEGIN
    PERFORM pgautofailover.submit_request('start_maintenance', n.formationid, n.groupid, n.nodeid,
                                          '{"allow_failover": true}');
    RETURN true;
END;
$$;

CREATE FUNCTION pgautofailover.stop_maintenance(node_id bigint)
RETURNS bool LANGUAGE plpgsql SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
DECLARE
    n pgautofailover.node := pgautofailover.node_by_id(node_id);
BEGIN
    PERFORM pgautofailover.submit_request('stop_maintenance', n.formationid, n.groupid, n.nodeid);
    RETURN true;
END;
$$;

CREATE FUNCTION pgautofailover.set_node_candidate_priority(formation_id text, node_name text, candidate_priority int)
RETURNS bool LANGUAGE plpgsql SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
DECLARE
    n pgautofailover.node := pgautofailover.node_by_name(formation_id, node_name);
BEGIN
    PERFORM pgautofailover.submit_request('candidate_priority', formation_id, n.groupid, n.nodeid,
                                          jsonb_build_object('candidate_priority', candidate_priority));
    RETURN true;
END;
$$;

CREATE FUNCTION pgautofailover.set_node_replication_quorum(formation_id text, node_name text, replication_quorum bool)
RETURNS bool LANGUAGE plpgsql SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
DECLARE
    n pgautofailover.node := pgautofailover.node_by_name(formation_id, node_name);
BEGIN
    PERFORM pgautofailover.submit_request('replication_quorum', formation_id, n.groupid, n.nodeid,
                                          jsonb_build_object('replication_quorum', replication_quorum));
    RETURN true;
END;
$$;

CREATE FUNCTION pgautofailover.set_formation_number_sync_standbys(formation_id text, number_sync_standbys int)
RETURNS bool LANGUAGE plpgsql SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
BEGIN
    PERFORM pgautofailover.submit_request('number_sync_standbys', formation_id, 0, NULL,
                                          jsonb_build_object('number_sync_standbys', number_sync_standbys));
    RETURN true;
END;
$$;

CREATE FUNCTION pgautofailover.remove_node(node_id bigint, force bool DEFAULT false)
RETURNS bool LANGUAGE plpgsql SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
DECLARE
    n pgautofailover.node := pgautofailover.node_by_id(node_id);
BEGIN
    PERFORM pgautofailover.submit_request('remove_node', n.formationid, n.groupid, n.nodeid,
                                          jsonb_build_object('force', force));
    RETURN true;
END;
$$;

CREATE FUNCTION pgautofailover.remove_node(node_host text, node_port int DEFAULT 5432, force bool DEFAULT false)
RETURNS bool LANGUAGE plpgsql SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
DECLARE
    id bigint;
BEGIN
    SELECT nodeid INTO id FROM pgautofailover.node WHERE nodehost = node_host AND nodeport = node_port;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'couldn''t find node with hostname "%" and port %', node_host, node_port
              USING ERRCODE = 'undefined_object';
    END IF;
    RETURN pgautofailover.remove_node(id, force);
END;
$$;

-- Least privilege: keepers read the tables and call the API, nothing else.
REVOKE ALL ON SCHEMA pgautofailover FROM PUBLIC;
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA pgautofailover FROM PUBLIC;
GRANT USAGE ON SCHEMA pgautofailover TO autoctl_node;
GRANT SELECT ON ALL TABLES IN SCHEMA pgautofailover TO autoctl_node;
GRANT EXECUTE ON FUNCTION
    pgautofailover.monitor_service_is_running(),
    pgautofailover.state_payload(pgautofailover.node),
    pgautofailover.node_description(pgautofailover.node),
    pgautofailover.node_active(text, bigint, int, pgautofailover.replication_state, bool, int, pg_lsn, text),
    pgautofailover.register_node(text, text, int, name, text, bigint, bigint, int, pgautofailover.replication_state, text, int, bool, text),
    pgautofailover.get_nodes(text, int),
    pgautofailover.get_primary(text, int),
    pgautofailover.get_other_nodes(bigint),
    pgautofailover.get_other_nodes(bigint, pgautofailover.replication_state),
    pgautofailover.get_coordinator(text),
    pgautofailover.get_most_advanced_standby(text, int),
    pgautofailover.current_state(text),
    pgautofailover.current_state(text, int),
    pgautofailover.last_events(int),
    pgautofailover.last_events(text, int),
    pgautofailover.last_events(text, int, int),
    pgautofailover.formation_uri(text, text, text, text, text),
    pgautofailover.synchronous_standby_names(text, int),
    pgautofailover.formation_settings(text),
    pgautofailover.create_formation(text, text, name, bool, int),
    pgautofailover.drop_formation(text),
    pgautofailover.enable_secondary(text),
    pgautofailover.disable_secondary(text),
    pgautofailover.update_node_metadata(bigint, text, text, int),
    pgautofailover.set_node_system_identifier(bigint, bigint),
    pgautofailover.set_group_system_identifier(bigint, bigint),
    pgautofailover.submit_request(text, text, int, bigint, jsonb),
    pgautofailover.perform_failover(text, int),
    pgautofailover.perform_promotion(text, text),
    pgautofailover.start_maintenance(bigint),
    pgautofailover.stop_maintenance(bigint),
    pgautofailover.set_node_candidate_priority(text, text, int),
    pgautofailover.set_node_replication_quorum(text, text, bool),
    pgautofailover.set_formation_number_sync_standbys(text, int),
    pgautofailover.remove_node(bigint, bool),
    pgautofailover.remove_node(text, int, bool)
  TO autoctl_node;
