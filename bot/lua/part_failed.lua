-- Drawing a part failed: let go of it and leave it dirty, dated now, so the sweep retries it later.
local lock, dirty = KEYS[1], KEYS[2]
local token, member = ARGV[1], ARGV[2]
if redis.call('GET', lock) == token then redis.call('DEL', lock) end
redis.call('ZADD', dirty, now_ms(), member)
return 1
