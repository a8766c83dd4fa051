-- A person declared an incident from the suggestion for this group: unless another incident of the group is
-- open (or being declared), the group follows the new one from now on, which gets the group's alerts on its
-- card and timeline. `expected` is the incident the caller read, whose key is `current`.
local group, current, inc, stream, tseen = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local id, expected, group_id, actor, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
if (redis.call('HGET', group, 'incident') or '') ~= expected then return {'retry'} end
if expected ~= '' then
  local status = redis.call('HGET', current, 'status')
  if not status or status == 'open' then return {'taken', expected} end
end
if redis.call('EXISTS', inc) == 0 then return {'gone'} end
redis.call('HSET', group, 'incident', id)
redis.call('HDEL', group, 'suggested')
local alerts = redis.call('HGET', group, 'alerts') or '[]'
redis.call('HSET', inc, 'alert_group', group_id, 'alerts', alerts, 'alert_url', redis.call('HGET', group, 'url') or '')
for _, row in ipairs(cjson.decode(alerts)) do
  local key = row.fp .. '|' .. row.starts .. '|' .. row.status
  add_event(stream, tseen, 'alert:' .. key, 'alert_' .. row.status, actor, now, cjson.encode(row))
end
bump(inc)
return {'ok', id}
