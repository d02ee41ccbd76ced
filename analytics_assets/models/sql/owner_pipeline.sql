-- One row per user, with zeros for users who own no leads (hence the LEFT JOIN and COUNT of
-- a lead column, never COUNT(*)). COUNT(CASE ... THEN 1 END) counts matching leads and is a
-- BIGINT on every engine; SUM would be HUGEINT on DuckDB and NUMERIC on PostgreSQL.
-- Enrollments are reduced to one row per enrolled lead first, so the join adds no rows.
SELECT
    users.id AS user_id,
    users.name AS user_name,
    users.email AS user_email,
    COUNT(leads.id) AS leads_owned,
    COUNT(enrolled.lead__id) AS leads_enrolled,
    COUNT(CASE WHEN leads.sent_count > 0 THEN 1 END) AS leads_contacted,
    CAST(COALESCE(SUM(leads.replied_count), 0) AS BIGINT) AS replies,
    COUNT(CASE WHEN leads.bounced = TRUE THEN 1 END) AS bounces,
    COUNT(CASE WHEN leads.optedout = TRUE THEN 1 END) AS opt_outs,
    CAST(COUNT(CASE WHEN leads.replied_count > 0 THEN 1 END) AS DOUBLE PRECISION)
        / NULLIF(COUNT(CASE WHEN leads.sent_count > 0 THEN 1 END), 0) AS reply_rate,
    MAX(CAST(leads.last_sent_at AS TIMESTAMP WITH TIME ZONE)) AS latest_last_sent_at
FROM users
LEFT JOIN leads ON leads.owner_id = users.id
LEFT JOIN (SELECT DISTINCT lead__id FROM campaign_leads) AS enrolled
    ON enrolled.lead__id = leads.id
GROUP BY users.id, users.name, users.email
