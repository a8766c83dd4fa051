-- A part's message was just posted (or found in Slack, `version` -1): keep its ts (and any other field, like
-- the channel id); its first post is no longer under way. Slack shows `version` with `digest`. The version
-- goes up: a caller drawing the part right now (from a snapshot without the ts) must look again before it
-- lets go. When nothing else changed since `version` was drawn, Slack shows the newest state: the part is
-- clean, and no draw follows. When the incident moved, the part's lock is taken with `token` and the newer
-- state handed back to draw (as lock_part.lua does); nil when another caller holds it (it draws again).
-- With a scheduled item (KEYS[8..9], `item`), the item is done too, as finish.lua does it.
local inc, steps, rendered, posting, lock, dirty, attempts = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local part, version, digest, member, token, lock_ms, item = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5],
  ARGV[6], ARGV[7]
redis.call('DEL', posting)
if item ~= '' then
  redis.call('ZREM', KEYS[8], item)
  redis.call('DEL', KEYS[9])
  if redis.call('HGET', inc, 'sending') == item then redis.call('HDEL', inc, 'sending') end
end
if redis.call('EXISTS', inc) == 0 then
  redis.call('ZREM', dirty, member)
  return false
end
local current = tonumber(redis.call('HGET', inc, 'version') or '0')
for i = 8, #ARGV, 2 do redis.call('HSET', inc, ARGV[i], ARGV[i + 1]) end
bump(inc)
local free = redis.call('EXISTS', lock) == 0
if current == version and free then
  -- Only the ts moved: the new version shows what was posted.
  redis.call('HSET', rendered, part, current + 1, part .. '#', digest)
  redis.call('ZREM', dirty, member)
  redis.call('HDEL', attempts, member)
  return false
end
local shown = tonumber(redis.call('HGET', rendered, part) or '-1')
if version >= shown then redis.call('HSET', rendered, part, version, part .. '#', digest) end
if not free and redis.call('GET', lock) ~= token then return false end
redis.call('SET', lock, token, 'PX', lock_ms)
redis.call('ZADD', dirty, 'LT', now_ms(), member)
local snap = snapshot(inc, steps)
return {snap[1], snap[2], redis.call('HGET', rendered, part .. '#') or ''}
