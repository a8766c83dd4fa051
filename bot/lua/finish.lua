-- A scheduled item is done (sent, or no longer wanted).
local due, job, inc = KEYS[1], KEYS[2], KEYS[3]
local member = ARGV[1]
redis.call('ZREM', due, member)
redis.call('DEL', job)
if redis.call('HGET', inc, 'sending') == member then redis.call('HDEL', inc, 'sending') end
return 1
