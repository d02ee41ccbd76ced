-- Per UTC day, campaign and event type: events, and replies as event type 'reply'.
-- An event names its campaign inside its free-form data (data.campaign_id); a reply never
-- sent (sent_at null) belongs to no day. The day is taken in UTC whatever the session's zone.
SELECT day, campaign_id, event_type, source, COUNT(*) AS occurrences
FROM (
    SELECT
        CAST(created_at AT TIME ZONE 'UTC' AS DATE) AS day,
        CAST(data ->> 'campaign_id' AS VARCHAR) AS campaign_id,
        event_type,
        CAST('events' AS VARCHAR) AS source
    FROM events
    UNION ALL
    SELECT
        CAST(sent_at AT TIME ZONE 'UTC' AS DATE) AS day,
        campaign_id,
        CAST('reply' AS VARCHAR) AS event_type,
        CAST('replies' AS VARCHAR) AS source
    FROM replies
    WHERE sent_at IS NOT NULL
) AS activity
GROUP BY day, campaign_id, event_type, source
