-- One row per campaign, from enrollment to reply. Enrollments and replies are aggregated per
-- campaign first (one row each), so joining them never multiplies counts.
-- Contacted, bounced and opted out are the API's own counts for the campaign (stats); the
-- reply rate is of the leads enrolled, the funnel's first stage.
SELECT
    campaigns.id AS campaign_id,
    campaigns.name AS campaign_name,
    COALESCE(enrolled.leads, 0) AS leads_enrolled,
    campaigns.stats__prospects_contacted AS contacted,
    COALESCE(answered.leads, 0) AS replied,
    COALESCE(answered.replies, 0) AS replies,
    COALESCE(answered.positive, 0) AS positive_replies,
    COALESCE(answered.negative, 0) AS negative_replies,
    COALESCE(answered.neutral, 0) AS neutral_replies,
    campaigns.stats__prospects_bounced AS bounced,
    campaigns.stats__prospects_optedout AS opted_out,
    CAST(COALESCE(answered.leads, 0) AS DOUBLE PRECISION)
        / NULLIF(COALESCE(enrolled.leads, 0), 0) AS reply_rate,
    answered.first_reply_at,
    answered.last_reply_at
FROM campaigns
LEFT JOIN (
    SELECT campaign_id, COUNT(DISTINCT lead__id) AS leads
    FROM campaign_leads
    GROUP BY campaign_id
) AS enrolled ON enrolled.campaign_id = campaigns.id
LEFT JOIN (
    SELECT
        campaign_id,
        COUNT(DISTINCT lead_id) AS leads,
        COUNT(*) AS replies,
        COUNT(CASE WHEN sentiment = 'positive' THEN 1 END) AS positive,
        COUNT(CASE WHEN sentiment = 'negative' THEN 1 END) AS negative,
        COUNT(CASE WHEN sentiment = 'neutral' THEN 1 END) AS neutral,
        MIN(sent_at) AS first_reply_at,
        MAX(sent_at) AS last_reply_at
    FROM replies
    GROUP BY campaign_id
) AS answered ON answered.campaign_id = campaigns.id
