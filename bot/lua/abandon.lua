-- A declare whose channel could not be created: keep the record, stop everything scheduled.
local inc, stream, seen, open = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local id, actor, now, event_id, etype, data = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
redis.call('HSET', inc, 'status', 'failed')
bump(inc)
redis.call('SREM', open, id)
add_event(stream, seen, event_id, etype, actor, now, data)
return 1
