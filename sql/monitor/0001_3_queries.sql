-- autoctl monitor SQL API, version 1: queries and direct metadata changes.

CREATE FUNCTION pgautofailover.get_nodes(
    IN formation_id text DEFAULT 'default', IN group_id int DEFAULT NULL,
    OUT node_id bigint, OUT node_name text, OUT node_host text, OUT node_port int,
    OUT node_lsn pg_lsn, OUT node_is_primary bool)
RETURNS SETOF record LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
    SELECT nodeid, nodename, nodehost, nodeport, reportedlsn,
           reportedstate IN ('single', 'primary', 'wait_primary', 'join_primary', 'apply_settings')
      FROM pgautofailover.node
     WHERE formationid = formation_id AND (group_id IS NULL OR groupid = group_id)
     ORDER BY groupid, nodeid;
$$;

CREATE FUNCTION pgautofailover.get_primary(
    IN formation_id text DEFAULT 'default', IN group_id int DEFAULT 0,
    OUT primary_node_id bigint, OUT primary_name text, OUT primary_host text, OUT primary_port int)
RETURNS record LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
BEGIN
    SELECT nodeid, nodename, nodehost, nodeport
      INTO primary_node_id, primary_name, primary_host, primary_port
      FROM pgautofailover.node
     WHERE formationid = formation_id AND groupid = group_id AND goalstate <> 'dropped'
     ORDER BY goalstate IN ('single', 'primary', 'wait_primary', 'join_primary', 'apply_settings') DESC,
              reportedstate IN ('single', 'primary', 'wait_primary', 'join_primary', 'apply_settings',
                                'draining', 'demote_timeout', 'prepare_maintenance') DESC,
              nodeid
     LIMIT 1;
    IF NOT FOUND OR NOT EXISTS (
        SELECT 1 FROM pgautofailover.node
         WHERE nodeid = primary_node_id
           AND (goalstate IN ('single', 'primary', 'wait_primary', 'join_primary', 'apply_settings')
                OR reportedstate IN ('single', 'primary', 'wait_primary', 'join_primary', 'apply_settings',
                                     'draining', 'demote_timeout', 'prepare_maintenance'))) THEN
        RAISE EXCEPTION 'group has no writable node right now' USING ERRCODE = 'object_in_use',
              HINT = 'Retry in a moment';
    END IF;
END;
$$;

CREATE FUNCTION pgautofailover.get_other_nodes(
    IN nodeid bigint,
    OUT node_id bigint, OUT node_name text, OUT node_host text, OUT node_port int,
    OUT node_lsn pg_lsn, OUT node_is_primary bool)
RETURNS SETOF record LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
    SELECT o.nodeid, o.nodename, o.nodehost, o.nodeport, o.reportedlsn,
           o.reportedstate IN ('single', 'primary', 'wait_primary', 'join_primary', 'apply_settings')
      FROM pgautofailover.node me
      JOIN pgautofailover.node o ON o.formationid = me.formationid AND o.groupid = me.groupid
     WHERE me.nodeid = get_other_nodes.nodeid AND o.nodeid <> me.nodeid AND o.goalstate <> 'dropped'
     ORDER BY o.nodeid;
$$;

CREATE FUNCTION pgautofailover.get_other_nodes(
    IN nodeid bigint, IN current_state pgautofailover.replication_state,
    OUT node_id bigint, OUT node_name text, OUT node_host text, OUT node_port int,
    OUT node_lsn pg_lsn, OUT node_is_primary bool)
RETURNS SETOF record LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
    SELECT o.* FROM pgautofailover.get_other_nodes(nodeid) o
      JOIN pgautofailover.node n ON n.nodeid = o.node_id
     WHERE n.goalstate = current_state;
$$;

CREATE FUNCTION pgautofailover.get_coordinator(
    IN formation_id text DEFAULT 'default', OUT node_host text, OUT node_port int)
RETURNS SETOF record LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
    SELECT nodehost, nodeport FROM pgautofailover.node
     WHERE formationid = formation_id AND groupid = 0
       AND goalstate IN ('single', 'wait_primary', 'primary')
       AND reportedstate IN ('single', 'wait_primary', 'primary');
$$;

CREATE FUNCTION pgautofailover.get_most_advanced_standby(
    IN formationid text DEFAULT 'default', IN groupid int DEFAULT 0,
    OUT node_id bigint, OUT node_name text, OUT node_host text, OUT node_port int,
    OUT node_lsn pg_lsn, OUT node_is_primary bool)
RETURNS SETOF record LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
    SELECT nodeid, nodename, nodehost, nodeport, reportedlsn, false
      FROM pgautofailover.node
     WHERE node.formationid = get_most_advanced_standby.formationid
       AND node.groupid = get_most_advanced_standby.groupid
       AND reportedstate = 'report_lsn'
     ORDER BY reportedlsn DESC, health DESC
     LIMIT 1;
$$;

CREATE FUNCTION pgautofailover.current_state(
    IN formation_id text DEFAULT 'default',
    OUT formation_kind text, OUT nodename text, OUT nodehost text, OUT nodeport int, OUT group_id int,
    OUT node_id bigint, OUT current_group_state pgautofailover.replication_state,
    OUT assigned_group_state pgautofailover.replication_state, OUT candidate_priority int,
    OUT replication_quorum bool, OUT reported_tli int, OUT reported_lsn pg_lsn, OUT health integer,
    OUT nodecluster text)
RETURNS SETOF record LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
    SELECT f.kind, n.nodename, n.nodehost, n.nodeport, n.groupid, n.nodeid, n.reportedstate, n.goalstate,
           n.candidatepriority, n.replicationquorum, n.reportedtli, n.reportedlsn, n.health, n.nodecluster
      FROM pgautofailover.node n JOIN pgautofailover.formation f USING (formationid)
     WHERE n.formationid = formation_id
     ORDER BY n.groupid, n.nodeid;
$$;

CREATE FUNCTION pgautofailover.current_state(
    IN formation_id text, IN group_id int,
    OUT formation_kind text, OUT nodename text, OUT nodehost text, OUT nodeport int, OUT group_id int,
    OUT node_id bigint, OUT current_group_state pgautofailover.replication_state,
    OUT assigned_group_state pgautofailover.replication_state, OUT candidate_priority int,
    OUT replication_quorum bool, OUT reported_tli int, OUT reported_lsn pg_lsn, OUT health integer,
    OUT nodecluster text)
RETURNS SETOF record LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
    SELECT * FROM pgautofailover.current_state(formation_id) cs WHERE cs.group_id = $2;
$$;

CREATE FUNCTION pgautofailover.last_events(count int DEFAULT 10)
RETURNS SETOF pgautofailover.event LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
    SELECT * FROM (SELECT * FROM pgautofailover.event ORDER BY eventid DESC LIMIT count) e
     ORDER BY eventtime, eventid;
$$;

CREATE FUNCTION pgautofailover.last_events(formation_id text DEFAULT 'default', count int DEFAULT 10)
RETURNS SETOF pgautofailover.event LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
    SELECT * FROM (SELECT * FROM pgautofailover.event WHERE formationid = formation_id
                    ORDER BY eventid DESC LIMIT count) e
     ORDER BY eventtime, eventid;
$$;

CREATE FUNCTION pgautofailover.last_events(formation_id text, group_id int, count int DEFAULT 10)
RETURNS SETOF pgautofailover.event LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
    SELECT * FROM (SELECT * FROM pgautofailover.event WHERE formationid = formation_id AND groupid = group_id
                    ORDER BY eventid DESC LIMIT count) e
     ORDER BY eventtime, eventid;
$$;

CREATE FUNCTION pgautofailover.formation_uri(
    formation_id text DEFAULT 'default', cluster_name text DEFAULT 'default',
    sslmode text DEFAULT 'prefer', sslrootcert text DEFAULT '', sslcrl text DEFAULT '')
RETURNS text LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
    SELECT 'postgres://' || string_agg(format('%s:%s', n.nodehost, n.nodeport), ',' ORDER BY n.nodeid)
           || '/' || (SELECT dbname FROM pgautofailover.formation WHERE formationid = formation_id)
           || '?' || CASE WHEN cluster_name = 'default' THEN 'target_session_attrs=read-write&' ELSE '' END
           || 'sslmode=' || sslmode
           || CASE WHEN sslrootcert <> '' THEN '&sslrootcert=' || sslrootcert ELSE '' END
           || CASE WHEN sslcrl <> '' THEN '&sslcrl=' || sslcrl ELSE '' END
      FROM pgautofailover.node n
     WHERE n.formationid = formation_id AND n.groupid = 0 AND n.nodecluster = cluster_name
    HAVING count(*) > 0;
$$;

-- synchronous_standby_names for a group's primary (reference §2.8); the same computation as
-- src/fsm/standby_names.cpp, which the integration tests compare it with.
CREATE FUNCTION pgautofailover.synchronous_standby_names(
    formation_id text DEFAULT 'default', group_id int DEFAULT 0)
RETURNS text LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
DECLARE
    node_count int;
    p pgautofailover.node;
    nss int;
    names text;
    standby pgautofailover.node;
BEGIN
    SELECT count(*) INTO node_count FROM pgautofailover.node
     WHERE formationid = formation_id AND groupid = group_id AND goalstate <> 'dropped';
    IF node_count = 0 THEN
        RAISE EXCEPTION 'group % of formation "%" has no nodes', group_id, formation_id
              USING ERRCODE = 'undefined_object';
    END IF;
    SELECT * INTO p FROM pgautofailover.node
     WHERE formationid = formation_id AND groupid = group_id AND goalstate <> 'dropped'
       AND goalstate IN ('single', 'primary', 'wait_primary', 'join_primary', 'apply_settings')
     ORDER BY nodeid LIMIT 1;
    IF node_count = 1 OR NOT FOUND THEN
        RETURN '';
    END IF;
    IF node_count = 2 THEN
        SELECT * INTO standby FROM pgautofailover.node
         WHERE formationid = formation_id AND groupid = group_id AND goalstate <> 'dropped' AND nodeid <> p.nodeid;
        IF standby.replicationquorum AND standby.goalstate = 'secondary' THEN
            RETURN format('ANY 1 (pgautofailover_standby_%s)', standby.nodeid);
        END IF;
        RETURN '';
    END IF;
    IF p.goalstate = 'wait_primary' AND p.reportedstate = 'wait_primary' THEN
        RETURN '';
    END IF;
    SELECT string_agg('pgautofailover_standby_' || nodeid, ', ' ORDER BY candidatepriority DESC, nodeid)
      INTO names
      FROM pgautofailover.node
     WHERE formationid = formation_id AND groupid = group_id AND goalstate <> 'dropped'
       AND nodeid <> p.nodeid AND replicationquorum;
    IF names IS NULL THEN
        RETURN '';
    END IF;
    SELECT number_sync_standbys INTO nss FROM pgautofailover.formation WHERE formationid = formation_id;
    RETURN format('ANY %s (%s)', greatest(nss, 1), names);
END;
$$;

CREATE FUNCTION pgautofailover.formation_settings(
    IN formation_id text DEFAULT 'default',
    OUT context text, OUT group_id int, OUT node_id bigint, OUT nodename text, OUT setting text, OUT value text)
RETURNS SETOF record LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
    SELECT 'formation', NULL::int, NULL::bigint, f.formationid, 'number_sync_standbys', f.number_sync_standbys::text
      FROM pgautofailover.formation f WHERE f.formationid = formation_id
    UNION ALL
    SELECT 'primary', p.primary_group, p.primary_id, p.primary_name, 'synchronous_standby_names',
           format('''%s''', pgautofailover.synchronous_standby_names(formation_id, p.primary_group))
      FROM (SELECT DISTINCT ON (groupid) groupid AS primary_group, nodeid AS primary_id, nodename AS primary_name
              FROM pgautofailover.node
             WHERE formationid = formation_id AND goalstate <> 'dropped'
               AND goalstate IN ('single', 'primary', 'wait_primary', 'join_primary', 'apply_settings')
             ORDER BY groupid, nodeid) p
    UNION ALL
    SELECT 'node', n.groupid, n.nodeid, n.nodename, 'replication quorum', n.replicationquorum::text
      FROM pgautofailover.node n WHERE n.formationid = formation_id AND n.goalstate <> 'dropped'
    UNION ALL
    SELECT 'node', n.groupid, n.nodeid, n.nodename, 'candidate priority', n.candidatepriority::text
      FROM pgautofailover.node n WHERE n.formationid = formation_id AND n.goalstate <> 'dropped';
$$;

CREATE FUNCTION pgautofailover.check_new_formation(
    formation_id text, kind text, number_sync_standbys int)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
BEGIN
    IF kind NOT IN ('pgsql', 'citus') THEN
        RAISE EXCEPTION 'unknown formation kind "%"', kind USING ERRCODE = 'invalid_parameter_value',
              HINT = 'use pgsql or citus';
    END IF;
    IF number_sync_standbys < 0 THEN
        RAISE EXCEPTION 'invalid number_sync_standbys %', number_sync_standbys
              USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF EXISTS (SELECT 1 FROM pgautofailover.formation f WHERE f.formationid = formation_id) THEN
        RAISE EXCEPTION 'formation "%" already exists', formation_id USING ERRCODE = 'duplicate_object';
    END IF;
END;
$$;

CREATE FUNCTION pgautofailover.create_formation(
    IN formation_id text, IN kind text, IN dbname name, IN opt_secondary bool, IN number_sync_standbys int,
    OUT formation_id text, OUT kind text, OUT dbname name, OUT opt_secondary bool, OUT number_sync_standbys int)
RETURNS record LANGUAGE sql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
    SELECT pgautofailover.check_new_formation($1, $2, $5);
    INSERT INTO pgautofailover.formation (formationid, kind, dbname, opt_secondary, number_sync_standbys)
         VALUES ($1, $2, $3, $4, $5)
      RETURNING formationid, kind, dbname, opt_secondary, number_sync_standbys;
$$;

CREATE FUNCTION pgautofailover.drop_formation(formation_id text)
RETURNS void LANGUAGE plpgsql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pgautofailover.formation f WHERE f.formationid = formation_id) THEN
        RAISE EXCEPTION 'formation "%" does not exist', formation_id USING ERRCODE = 'undefined_object';
    END IF;
    IF EXISTS (SELECT 1 FROM pgautofailover.node n WHERE n.formationid = formation_id) THEN
        RAISE EXCEPTION 'formation "%" still has nodes', formation_id USING ERRCODE = 'object_in_use',
              HINT = 'drop its nodes first';
    END IF;
    DELETE FROM pgautofailover.formation f WHERE f.formationid = formation_id;
END;
$$;

CREATE FUNCTION pgautofailover.enable_secondary(formation_id text)
RETURNS bool LANGUAGE sql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
    UPDATE pgautofailover.formation f SET opt_secondary = true WHERE f.formationid = formation_id RETURNING true;
$$;

CREATE FUNCTION pgautofailover.disable_secondary(formation_id text)
RETURNS bool LANGUAGE plpgsql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM pgautofailover.node n WHERE n.formationid = formation_id
                  AND n.reportedstate <> 'single' AND n.goalstate <> 'dropped') THEN
        RAISE EXCEPTION 'formation "%" has secondary nodes', formation_id USING ERRCODE = 'object_in_use',
              HINT = 'drop the secondary nodes first';
    END IF;
    UPDATE pgautofailover.formation f SET opt_secondary = false WHERE f.formationid = formation_id;
    RETURN true;
END;
$$;

CREATE FUNCTION pgautofailover.update_node_metadata(
    node_id bigint, node_name text, node_host text, node_port int)
RETURNS bool LANGUAGE plpgsql SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
BEGIN
    UPDATE pgautofailover.node
       SET nodename = coalesce(node_name, nodename), nodehost = coalesce(node_host, nodehost),
           nodeport = coalesce(node_port, nodeport)
     WHERE nodeid = node_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'couldn''t find node with nodeid %', node_id USING ERRCODE = 'undefined_object';
    END IF;
    RETURN true;
END;
$$;

CREATE FUNCTION pgautofailover.set_node_system_identifier(
    IN node_id bigint, IN node_sysidentifier bigint,
    OUT node_id bigint, OUT node_name text, OUT node_host text, OUT node_port int)
RETURNS record LANGUAGE sql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
    UPDATE pgautofailover.node SET sysidentifier = $2 WHERE nodeid = $1
    RETURNING nodeid, nodename, nodehost, nodeport;
$$;

CREATE FUNCTION pgautofailover.set_group_system_identifier(
    IN group_id bigint, IN node_sysidentifier bigint,
    OUT node_id bigint, OUT node_name text, OUT node_host text, OUT node_port int)
RETURNS SETOF record LANGUAGE sql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
    UPDATE pgautofailover.node SET sysidentifier = $2 WHERE groupid = $1 AND coalesce(sysidentifier, 0) = 0
    RETURNING nodeid, nodename, nodehost, nodeport;
$$;
