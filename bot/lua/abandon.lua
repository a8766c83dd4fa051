-- A declare whose channel could not be created: keep the record, stop everything scheduled.
local inc, stream, seen, open, by_playbook = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local id, actor, now, event_id, etype, data = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
redis.call('HSET', inc, 'status', 'failed')
bump(inc)
if redis.call('SREM', open, id) == 1 then
  redis.call('HINCRBY', by_playbook, redis.call('HGET', inc, 'playbook'), -1)
end
add_event(stream, seen, event_id, etype, actor, now, data)
return 1
