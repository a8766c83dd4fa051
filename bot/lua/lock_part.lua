-- Start drawing one message (or the topic) of an incident. The part is marked dirty first, so that if
-- this render fails or its replica dies, the sweep finds it. Only one caller draws a part at a time;
-- a caller that finds it taken leaves: the holder checks the version before letting go.
local lock, inc, steps, rendered, dirty = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local token, lock_ms, part, member = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
redis.call('ZADD', dirty, 'LT', now_ms(), member)
if not redis.call('SET', lock, token, 'NX', 'PX', lock_ms) then return false end
if redis.call('EXISTS', inc) == 0 then
  redis.call('DEL', lock)
  redis.call('ZREM', dirty, member)
  return false
end
local snap = snapshot(inc, steps)
return {snap[1], snap[2], redis.call('HGET', rendered, part .. '#') or ''}
