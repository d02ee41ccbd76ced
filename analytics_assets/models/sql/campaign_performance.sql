-- One row per campaign. The creator's name and email come from users (the current values),
-- falling back to the copy embedded in the campaign when the user is not (or no longer) there.
-- Rates are NULL, not an error, when their denominator is 0 or unknown.
SELECT
    campaigns.id AS campaign_id,
    campaigns.name AS campaign_name,
    COALESCE(users.name, campaigns.creator__name) AS creator_name,
    COALESCE(users.email, campaigns.creator__email) AS creator_email,
    COALESCE(enrolled.leads, 0) AS leads_enrolled,
    campaigns.stats__prospects_contacted AS contacted,
    campaigns.stats__prospects_reached AS reached,
    campaigns.stats__prospects_opened AS opened,
    campaigns.stats__prospects_replied AS replied,
    campaigns.stats__prospects_bounced AS bounced,
    campaigns.stats__prospects_optedout AS opted_out,
    CAST(campaigns.stats__prospects_opened AS DOUBLE PRECISION)
        / NULLIF(campaigns.stats__prospects_reached, 0) AS open_rate,
    CAST(campaigns.stats__prospects_replied AS DOUBLE PRECISION)
        / NULLIF(campaigns.stats__prospects_contacted, 0) AS reply_rate,
    CAST(campaigns.stats__prospects_bounced AS DOUBLE PRECISION)
        / NULLIF(campaigns.stats__prospects_contacted, 0) AS bounce_rate
FROM campaigns
LEFT JOIN users ON users.id = campaigns.creator__id
LEFT JOIN (
    SELECT campaign_id, COUNT(DISTINCT lead__id) AS leads
    FROM campaign_leads
    GROUP BY campaign_id
) AS enrolled ON enrolled.campaign_id = campaigns.id
