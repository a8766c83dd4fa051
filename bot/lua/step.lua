-- Done / Undo on one step of the current phase. {'ok', 1} when this Done was the first response.
local inc, steps, stream, seen = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local phase, step, action, actor, now, event_id, data = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
if redis.call('EXISTS', inc) == 0 then return {'gone'} end
local status, current = unpack(redis.call('HMGET', inc, 'status', 'phase'))
if status ~= 'open' then return {'closed'} end
if current ~= phase then return {'stale_phase'} end
local field = phase .. ':' .. step
local existing = redis.call('HGET', steps, field)
local etype = nil
local first = 0
if action == 'done' and not existing then
  redis.call('HSET', steps, field, cjson.encode({state = 'done', by = actor, at = tonumber(now)}))
  etype = 'step_done'
  first = responded(inc, actor, now)
elseif action == 'undo' and existing then
  redis.call('HDEL', steps, field)
  etype = 'step_undone'
end
if not etype then return {'same'} end
bump(inc)
add_event(stream, seen, event_id, etype, actor, now, data)
return {'ok', first, redis.call('HGET', inc, 'declared_at')}
