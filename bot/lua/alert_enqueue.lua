-- A delivery from Alertmanager, stored before it is answered: kept in its group's inbox in arrival order
-- (the newest `keep`), and the group queued for any replica to process. A group already queued or being
-- processed keeps its place: the replica finishing it sees the new delivery and queues the group again.
local group, inbox, seen, due = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local member, group_key, delivery, keep, ttl_ms = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
local seq = redis.call('HINCRBY', group, 'seq', 1)
redis.call('ZADD', inbox, seq, seq .. '|' .. delivery)
redis.call('ZREMRANGEBYRANK', inbox, 0, -keep - 1)
redis.call('HSET', group, 'key', group_key, 'queued', '1')
redis.call('ZADD', due, 'NX', now_ms(), member)
for _, key in ipairs({group, inbox, seen}) do redis.call('PEXPIRE', key, ttl_ms) end
return seq
