-- Slack now shows `version` of a part, whose content hashes to `digest`. While the lock is still ours:
-- if the incident moved on meanwhile, hand back the newer state to draw again; otherwise let go, and
-- the part is clean.
local inc, steps, rendered, lock, dirty = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local part, token, version, digest, lock_ms, member = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5], ARGV[6]
local shown = tonumber(redis.call('HGET', rendered, part) or '-1')
if version >= shown then redis.call('HSET', rendered, part, version, part .. '#', digest) end
if redis.call('GET', lock) ~= token then return false end
local current = tonumber(redis.call('HGET', inc, 'version') or '0')
if current > version then
  redis.call('PEXPIRE', lock, lock_ms)
  local snap = snapshot(inc, steps)
  return {snap[1], snap[2], redis.call('HGET', rendered, part .. '#') or ''}
end
redis.call('DEL', lock)
redis.call('ZREM', dirty, member)
return false
