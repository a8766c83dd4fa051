-- Someone picks up an escalation ping: once per level, and only for a ping that was actually sent.
local inc, steps, stream, seen = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local level, actor, now, event_id, data = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
if redis.call('EXISTS', inc) == 0 then return {'gone'} end
-- A ping is sent once its escalation event is on the timeline (older pings have no ping_at field).
local sent_event = 'esc:esc|' .. redis.call('HGET', inc, 'id') .. '|' .. level
if redis.call('HEXISTS', inc, 'ping_at:' .. level) == 0 and redis.call('SISMEMBER', seen, sent_event) == 0 then
  return {'not_sent'}
end
local by = redis.call('HGET', inc, 'ack_by:' .. level)
if by then return {'already', by} end
redis.call('HSET', inc, 'ack_by:' .. level, actor, 'ack_at:' .. level, now)
local first = responded(inc, actor, now)
bump(inc)
add_event(stream, seen, event_id, 'escalation_acknowledged', actor, now, data)
return {'ok', first, redis.call('HGET', inc, 'declared_at')}
