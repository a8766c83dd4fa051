-- Drawing a part failed: let go of it and leave it dirty, dated now, so the sweep retries it later;
-- after `max_attempts` failures in a row it is given up (0), so a part that can never be drawn is not
-- retried for ever.
local lock, dirty, attempts = KEYS[1], KEYS[2], KEYS[3]
local token, member, max_attempts = ARGV[1], ARGV[2], tonumber(ARGV[3])
if redis.call('GET', lock) == token then redis.call('DEL', lock) end
if redis.call('HINCRBY', attempts, member, 1) > max_attempts then
  redis.call('ZREM', dirty, member)
  redis.call('HDEL', attempts, member)
  return 0
end
redis.call('ZADD', dirty, now_ms(), member)
return 1
