-- Resolved: the RCA is now due, and one reminder is scheduled for when it falls due.
local inc, due = KEYS[1], KEYS[2]
local member, due_ms = ARGV[1], ARGV[2]
if redis.call('HGET', inc, 'rca_status') then return 0 end
redis.call('HSET', inc, 'rca_status', 'due', 'rca_due_at', due_ms)
bump(inc)
redis.call('ZADD', due, 'NX', due_ms, member)
return 1
