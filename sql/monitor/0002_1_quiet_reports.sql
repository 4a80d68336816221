-- Schema version 2: node_active notifies the monitor service only for a report that can change
-- a decision (see the comment in the function).

CREATE OR REPLACE FUNCTION pgautofailover.node_active(
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
    -- Wake the monitor service only when this report can change a decision: a report equal to the
    -- previous one leads to the same decisions, and the service's one-second timer takes care of
    -- timeouts. Every report used to notify: in an idle formation, one group decision per node
    -- per second for nothing.
    IF state_changed
       OR n.goalstate <> current_group_role
       OR n.reporttime < n.statechangetime  -- the first report since a new goal
       OR n.reportedpgisrunning IS DISTINCT FROM current_pg_is_running
       OR n.reportedrepstate IS DISTINCT FROM current_rep_state
       OR (current_tli <> 0 AND n.reportedtli IS DISTINCT FROM current_tli)
       OR (current_lsn <> '0/0' AND n.reportedlsn IS DISTINCT FROM current_lsn)
       OR n.reporttime < now() - interval '2 seconds'
    THEN
        PERFORM pg_notify('autoctl_report',
                          json_build_object('formation', n.formationid, 'group', n.groupid,
                                            'node', n.nodeid)::text);
    END IF;
    assigned_node_id := n.nodeid;
    assigned_group_id := n.groupid;
    assigned_group_state := n.goalstate;
    assigned_candidate_priority := n.candidatepriority;
    assigned_replication_quorum := n.replicationquorum;
END;
$$;

INSERT INTO pgautofailover.schema_version (version, description)
     VALUES (2, 'node_active notifies the monitor service only for reports that can change a decision');
