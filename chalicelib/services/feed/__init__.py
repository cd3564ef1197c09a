"""Feed: CRM information. Activities (recorded by every capability that has something to
tell), their write-time fan-out to per-viewer scene entries (``feed_index``), comments,
mentions and the feed read (``feed``).
"""
