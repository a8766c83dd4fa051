-- A part's first post is starting (`ttl_ms` given: marked as under way for that long) or has failed
-- (`ttl_ms` empty: no longer under way). Either way the part is dirty, so the sweep posts it if no attempt
-- keeps its ts: a starting post keeps an earlier date (LT), a failed one is dated now.
local posting, dirty = KEYS[1], KEYS[2]
local ttl_ms, member = ARGV[1], ARGV[2]
if ttl_ms ~= '' then
  redis.call('SET', posting, '1', 'PX', ttl_ms)
  redis.call('ZADD', dirty, 'LT', now_ms(), member)
else
  redis.call('DEL', posting)
  redis.call('ZADD', dirty, now_ms(), member)
end
return 1
