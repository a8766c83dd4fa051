-- Slack now shows `version` of a part, whose content hashes to `digest`. While the lock is still ours:
-- if the incident moved on meanwhile, hand back the newer state to draw again; otherwise let go, and
-- the part is clean. If the lock ran out while we pushed, another caller may have drawn a newer version
-- before our push landed: forget what Slack shows and leave the part dirty for the sweep.
local inc, steps, rendered, lock, dirty, attempts = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local part, token, version, digest, lock_ms, member = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5], ARGV[6]
if redis.call('GET', lock) ~= token then
  redis.call('HDEL', rendered, part .. '#')
  redis.call('ZADD', dirty, now_ms(), member)
  return false
end
local shown = tonumber(redis.call('HGET', rendered, part) or '-1')
if version >= shown then redis.call('HSET', rendered, part, version, part .. '#', digest) end
local current = tonumber(redis.call('HGET', inc, 'version') or '0')
if current > version then
  redis.call('PEXPIRE', lock, lock_ms)
  local snap = snapshot(inc, steps)
  return {snap[1], snap[2], redis.call('HGET', rendered, part .. '#') or ''}
end
redis.call('DEL', lock)
redis.call('ZREM', dirty, member)
redis.call('HDEL', attempts, member)
return false
